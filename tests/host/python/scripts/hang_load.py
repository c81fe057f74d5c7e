# module code that never ends: the load is interrupted
import jazz
jazz.info('hang_load: spinning at import')
while True:
    pass
