# accept_conn: refuse one source address, accept the rest.
import jazz

BLOCKED = {'127.0.0.66'}

def accept_conn(info):
    if info['ip'] in BLOCKED:
        jazz.log(jazz.LOG_WARNING, 'refusing ' + info['source'])
        return False
    return True
