# Probe (not a test): python3 early-answer-raw.py PORT PATH RUNS against HAProxy with configs/haproxy-early.cfg.
# A blocking socket sends 32 MiB until send() fails, then recv(): is the early answer still in the socket?
# Blocking socket: send a 32 MiB body until send() fails, then recv(): is the answer still there?
import socket, sys, errno, collections
port=int(sys.argv[1]); path=sys.argv[2]; runs=int(sys.argv[3])
tally=collections.Counter()
for _ in range(runs):
    s=socket.create_connection(('127.0.0.1',port))
    s.sendall(b'POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % (path.encode(), 32<<20))
    piece=b'x'*(256<<10); sent=0; err=None
    try:
        while sent < 32<<20:
            s.sendall(piece); sent+=len(piece)
    except OSError as e:
        err=errno.errorcode[e.errno]
    got=b''; rerr=None
    try:
        while True:
            d=s.recv(65536)
            if not d: break
            got+=d
    except OSError as e:
        rerr=errno.errorcode[e.errno]
    status=got[:12].decode('latin1') if got else '-'
    tally[f'send failed {err} after {sent>>20} MiB; recv then gave {status!r} {len(got)} bytes, then {rerr or "EOF"}']+=1
    s.close()
for k,v in tally.items(): print(f'{path}: {v}/{runs} {k}')
