# a runaway loop and a blocking sleep
import time

def peer_connection(conn):
    n = 0
    while True:            # ends only through jazz.CallbackTimeout
        try:
            n += 1
        except Exception:  # does not catch CallbackTimeout (a BaseException)
            pass

def accept_conn(info):
    time.sleep(float(info['port']) / 1000)   # blocked in C: abandoned by jazzd
    return True

def user_key(req):
    return 'quick'
