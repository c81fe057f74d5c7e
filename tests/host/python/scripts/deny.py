# peer_connection: no ssh between devices; everything else for 60 s.
import jazz

def peer_connection(conn):
    if conn['protocol'] == 'tcp' and conn['destination_port'] == 22:
        jazz.log(jazz.LOG_INFO, 'denied ssh from %s to %s' % (conn['origin'], conn['destination']))
        return False
    return True, 60
