{
  "targets": [
    {
      "target_name": "sniffwatch_pcap",
      "sources": ["src/pcap_addon.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8", "_DEFAULT_SOURCE"],
      "libraries": ["-lpcap"]
    }
  ]
}
