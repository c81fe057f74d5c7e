# scripts/bench-callbacks.sh: the same decision as bench_plugin.c
def peer_connection(conn):
    return not (conn['protocol'] == 'tcp' and conn['destination_port'] == 22)
