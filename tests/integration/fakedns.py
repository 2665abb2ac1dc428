"""A DNS server on a loopback UDP port answering TXT queries from a table:
each name maps to a record text (answered NOERROR), or to "NXDOMAIN",
"SERVFAIL" or "TIMEOUT" (no answer at all); unknown names get default.
For test vectors whose keys come with DNS failures dnsmasq cannot serve."""

import socket
import struct
import threading

RCODE = {"NXDOMAIN": 3, "SERVFAIL": 2}


class FakeDns:
    def __init__(self, table, default="NXDOMAIN"):
        self.default = default
        self.table = {k.lower().rstrip("."): v for k, v in table.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def resolver(self):
        return f"127.0.0.1:{self.port}"

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(q)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def answer(self, q):
        if len(q) < 17:
            return None
        labels, i = [], 12
        while i < len(q) and q[i] != 0:
            labels.append(q[i + 1:i + 1 + q[i]].decode("latin-1"))
            i += 1 + q[i]
        question = q[12:i + 5]
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append(name)
        value = self.table.get(name, self.default)
        if value == "TIMEOUT":
            return None
        flags = 0x8180 | (q[2] & 0x01) << 8  # QR, RD as asked, RA
        if value in RCODE:
            return q[:2] + struct.pack("!HHHHH", flags | RCODE[value], 1, 0, 0, 0) + question
        if qtype != 16:
            return q[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + question
        data = value.encode("latin-1")
        rdata = b"".join(bytes([len(data[k:k + 255])]) + data[k:k + 255]
                         for k in range(0, max(len(data), 1), 255))
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(rdata)) + rdata
        return q[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0) + question + rr

    def close(self):
        self.sock.close()


def mail_dkim_table(path):
    """Mail::DKIM's t/FAKE_DNS.dat: "name record", "name NXDOMAIN", or a
    DNS error as "name ~~text~~" (timeout or SERVFAIL)."""
    table = {}
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\n")
        if not line.strip() or line.lstrip()[:1] in "#;":
            continue
        name, value = line.split(None, 1) if len(line.split(None, 1)) == 2 else (line.strip(), "")
        if value.startswith("~~"):
            value = "SERVFAIL" if "SERVFAIL" in value else "TIMEOUT"
        elif value == '""':
            value = ""
        table[name] = value.strip() if value not in ("NXDOMAIN", "SERVFAIL", "TIMEOUT") else value
    return table
