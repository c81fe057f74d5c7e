# module code blocked in C: the load is abandoned
import time
time.sleep(3)

def accept_conn(info):
    return True
