// The Linux host sensor, as a library for `sniffwatch watch` and `sniffwatch run`:
// process executions, packet sockets, promiscuous interfaces, CAP_NET_RAW and
// traffic duplication on this host. See sensor.ts.

export { startHostSensors, HOST_RULES, type HostSensors, type HostSensorOptions, type HostSensorStats, type HostReportFn, type ProcessHit } from './sensor.js';
export { HOST_CONFIG, type HostConfig } from './config.js';
export { classifyExec, type ToolMatch } from './tools.js';
export { hostWatchSensor } from './watch-sensor.js';
