"""The Python side of bench/frame.ts: the sender every reader is measured
against, and asyncio's StreamReader as a reader.

  frame_peers.py send lines|frames SECONDS
      listen on 127.0.0.1 (a free port), print "Listening at
      127.0.0.1:PORT", and for each connection (at most 100, one at a time)
      send for SECONDS, then close: 32-byte lines, or frames of 64 bytes
      after a 4-byte big-endian length, in 128 KiB chunks (sendall)
  frame_peers.py asyncio lines|frames PORT
      connect, read with asyncio until the end (readline; or readexactly
      of the prefix, then of the frame) and print one JSON line:
      {"messages": N, "seconds": S}

Traffic goes to 127.0.0.1 only.
"""
import asyncio
import json
import socket
import struct
import sys
import time

LINE = b"0123456789abcdefghijklmnopqrstu\n"  # 32 bytes
FRAME = struct.pack("!I", 64) + bytes(range(64))
CHUNK = {"lines": LINE * 4096, "frames": FRAME * (131072 // len(FRAME))}


def send(mode, seconds):
    chunk = CHUNK[mode]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    print("Listening at 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    for _ in range(100):
        conn, _ = server.accept()
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                conn.sendall(chunk)
        except OSError:
            pass  # The reader left: its row reports it.
        conn.close()


async def consume(mode, port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    count = 0
    if mode == "lines":
        while await reader.readline():
            count += 1
    else:
        while True:
            try:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
            except asyncio.IncompleteReadError:
                break
            await reader.readexactly(length)
            count += 1
    seconds = time.perf_counter() - start
    writer.close()
    print(json.dumps({"messages": count, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "send" and sys.argv[2] in CHUNK:
        send(sys.argv[2], float(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "asyncio" and sys.argv[2] in CHUNK:
        asyncio.run(consume(sys.argv[2], int(sys.argv[3])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
