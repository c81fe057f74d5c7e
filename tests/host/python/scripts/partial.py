# only peer_connection: the other four take their defaults
import jazz
jazz.info('partial.py loaded')

def peer_connection(conn):
    return False
