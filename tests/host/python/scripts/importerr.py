import jazz
import no_such_module_for_jazz

def accept_conn(info):
    return True
