#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Runs a command on a new pseudo-terminal (its controlling terminal and its
stdin/stdout; stderr goes to LOG) and plays a script against it, like a
person at the keyboard. Prints one line per checking step,
"ok - DESC" or "not ok - DESC: why", for the calling TAP test.

  ptydrive.py LOG SCRIPT -- COMMAND...

SCRIPT lines (tab-separated):
  expect  REGEX  DESC    wait up to 15 s for REGEX in the output not yet
                         matched (then the output up to the match is used)
  echo    on|off DESC    the terminal's ECHO flag, as the command left it
  send    TEXT           type TEXT and Enter
  absent  TEXT   DESC    TEXT does not appear anywhere in the output so far
  present TEXT   DESC    TEXT appears in the output so far
  waitlog FILE REGEX DESC  wait up to 15 s for REGEX in FILE
  stop                   SIGTERM the command and wait for it
"""
import os
import pty
import re
import select
import signal
import sys
import termios
import time


def main():
    log, script = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index('--') + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        err = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(err, 2)
        os.execvp(cmd[0], cmd)
    out = b''
    pos = 0

    def read_some(deadline):
        nonlocal out
        r, _, _ = select.select([fd], [], [], max(0, min(0.2, deadline - time.time())))
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b''
            out += data
            return bool(data)
        return True

    def report(good, desc, why=''):
        print('ok - %s' % desc if good else 'not ok - %s: %s' % (desc, why), flush=True)

    for line in open(script):
        f = line.rstrip('\n').split('\t')
        if not f or not f[0] or f[0].startswith('#'):
            continue
        op = f[0]
        if op == 'expect':
            rx = re.compile(f[1].encode())
            deadline = time.time() + 15
            m = None
            while time.time() < deadline:
                m = rx.search(out, pos)
                if m:
                    break
                if not read_some(deadline):
                    break
            if m:
                pos = m.end()
            report(bool(m), f[2], 'not seen; output ends %r' % out[-200:])
        elif op == 'echo':
            # give the command a moment to set the mode after its prompt
            time.sleep(0.2)
            on = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
            report(on == (f[1] == 'on'), f[2], 'ECHO is %s' % ('on' if on else 'off'))
        elif op == 'send':
            os.write(fd, f[1].encode() + b'\n')
            # collect what the terminal echoes (or not) for absent/present
            end = time.time() + 0.5
            while time.time() < end:
                read_some(end)
        elif op == 'absent':
            report(f[1].encode() not in out, f[2], 'found in the output')
        elif op == 'present':
            report(f[1].encode() in out, f[2], 'not in the output')
        elif op == 'waitlog':
            rx = re.compile(f[2])
            deadline = time.time() + 15
            hit = False
            while time.time() < deadline and not hit:
                try:
                    hit = bool(rx.search(open(f[1], errors='replace').read()))
                except OSError:
                    pass
                if not hit:
                    read_some(time.time() + 0.2)
            report(hit, f[3], 'no line matching %s in %s' % (f[2], f[1]))
        elif op == 'stop':
            os.kill(pid, signal.SIGTERM)
            end = time.time() + 5
            while time.time() < end:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                read_some(time.time() + 0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            pid = None
    if pid:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


if __name__ == '__main__':
    main()
