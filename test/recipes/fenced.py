"""test/recipes/fenced.py JOB GO_FILE: the Python recipe's lease.fenced()
after a takeover (see fenced.mjs): "write1=ok", then, once GO_FILE exists,
"write2=LK001" when the second write is refused."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["RECIPE_DIR"], "python"))
import psycopg  # noqa: E402
from cron_lock import cron_lock  # noqa: E402

job, go = sys.argv[1:3]
with cron_lock(os.environ["DATABASE_URL"], job, instance="stalled", ttl=3, retries=1) as lease:
    if lease:
        with lease.fenced() as conn:
            conn.execute("INSERT INTO fenced_log (job, token) VALUES (%s, %s)", (job, lease.token))
        print("write1=ok", flush=True)
        while not os.path.exists(go):
            time.sleep(0.05)
        try:
            with lease.fenced() as conn:
                conn.execute("INSERT INTO fenced_log (job, token) VALUES (%s, %s)", (job, lease.token))
            print("write2=ok", flush=True)
        except psycopg.Error as e:
            print("write2=%s" % e.sqlstate, flush=True)
