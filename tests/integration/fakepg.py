"""A fake PostgreSQL server that asks every client for its password in clear text
(AuthenticationCleartextPassword), writes down what it receives, and refuses the login:
what a hostile host registered as a database would do to collect secrets."""
import socket
import struct
import threading

from conftest import free_port


class CleartextListener:
    def __init__(self):
        self.port = free_port()
        self.received = []  # passwords sent to it
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(0.2)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def _client(self, conn):
        self.connections += 1
        try:
            conn.settimeout(5)
            (length,) = struct.unpack("!I", self._read(conn, 4))
            body = self._read(conn, length - 4)
            if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):  # SSL / GSS request
                conn.sendall(b"N")
                (length,) = struct.unpack("!I", self._read(conn, 4))
                self._read(conn, length - 4)
            conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
            kind = self._read(conn, 1)
            (length,) = struct.unpack("!I", self._read(conn, 4))
            payload = self._read(conn, length - 4)
            if kind == b"p":
                self.received.append(payload.rstrip(b"\0").decode(errors="replace"))
            msg = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
            conn.sendall(b"E" + struct.pack("!I", len(msg) + 4) + msg)
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            conn.close()

    def close(self):
        self.stopped = True
        self.sock.close()
