"""Statistics benchmark: monthly report over 10,000,000 calls, rollup cost, month rebuild.

1. Creates a scratch PostgreSQL database ``issue13_<random>``, migrates it and generates
   ``--calls`` call rows (default 10,000,000) with ``generate_series`` over 2026 for 20
   tenants; tenant 1 is the big one (``--big-share``, default 30 % of all calls). Outcomes
   ~75 % answered, 12 % abandoned, 5 % timeout, 4 % diverted, 2 % blocked, 2 % IVR only,
   every tenth call with two queue stints (overflow); rows in time order, as a PBX writes
   them. Then ``VACUUM (ANALYZE)``.
2. Rebuilds one month's rollups for every tenant through :func:`stats.rollups.rebuild`
   (the command's code path) and reports the time; the other months' rollups are filled
   by the same rebuild when ``--all-months`` is given, else left empty (the report reads
   its own tenant and month through the primary key, so their size hardly matters).
3. Times :func:`stats.reports.tenant_report` (the API's code path) for the big tenant's
   month: p50/p99 over ``--reports`` runs; and, for comparison, one aggregate over the raw
   call rows of that tenant and month.
4. Rollup cost per finished call: :meth:`RollupUpdater.apply` for single calls of that
   month (recomputing their 15-minute bucket), mean and p99.
The database is dropped at the end. Usage: ``python -m bench.stats_report --calls 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]

from callcenter.db import migrate
from callcenter.db.session import Database
from stats import reports
from stats.period import parse_period, zone
from stats.rollups import RollupUpdater, rebuild

SKIP_BY_DEFAULT = True  # generates 10,000,000 rows: run it by name
ADMIN_DSN = os.environ.get("CALLCENTER_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TENANTS = 20
MONTH = "2026-03"

GENERATE = """
INSERT INTO calls (linkedid, tenant_id, tenant, queue, agent, entered_at, queued_at,
                   answered_at, ended_at, outcome, wait_seconds, talk_seconds, extra)
SELECT 'g' || i,
       t,
       'bench-' || t,
       'q-' || t || '-' || (i % 3),
       CASE WHEN o = 'answered' THEN 'Agent ' || (i % 40) END,
       e,
       e + interval '8 seconds',
       CASE WHEN o = 'answered' THEN e + interval '8 seconds' + w * interval '1 second' END,
       e + interval '8 seconds' + (w + coalesce(k, 0)) * interval '1 second',
       o,
       w,
       k,
       CASE WHEN i % 10 = 0 AND o = 'answered' THEN jsonb_build_object('stints', jsonb_build_array(
              jsonb_build_object('queue', 'q-' || t || '-0', 'uniqueid', 'g' || i,
                                 'wait', w / 2, 'status', 'TIMEOUT', 'abandoned', true),
              jsonb_build_object('queue', 'q-' || t || '-1', 'uniqueid', 'g' || i,
                                 'wait', w / 2, 'answered', true)))
            WHEN o = 'diverted' THEN '{"cc_outcome": "voicemail"}'::jsonb
            ELSE '{}'::jsonb END
FROM (
  SELECT i,
         CASE WHEN random() < $3 THEN 1 ELSE 2 + (i % ($4 - 1)) END AS t,
         -- In time order, as a PBX writes them (rows of one day lie together on disk).
         timestamptz '2026-01-01 00:00:00+00' + (i::float8 / $5) * interval '365 days' AS e,
         (random() * 60)::numeric(6, 1)::float8 AS w,
         CASE WHEN r < 0.75 THEN 'answered' WHEN r < 0.87 THEN 'abandoned'
              WHEN r < 0.92 THEN 'timeout' WHEN r < 0.96 THEN 'diverted'
              WHEN r < 0.98 THEN 'blocked' ELSE 'ivr' END AS o,
         CASE WHEN r < 0.75 THEN (20 + random() * 280)::numeric(6, 1)::float8 END AS k
  FROM (SELECT i, random() AS r FROM generate_series($1::bigint, $2::bigint) AS i) s
) g
"""


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    name = f"issue13_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    dsn = f"{ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                "INSERT INTO tenants (id, slug, name, timezone, default_language, languages,"
                " region, active, created_at) SELECT t, 'bench-' || t, 'Tenant ' || t,"
                " 'Europe/Berlin', 'de', '[\"de\"]', 'DE', true, now()"
                " FROM generate_series(1, $1) t",
                TENANTS,
            )
            started = time.perf_counter()
            step = 1_000_000
            for lo in range(1, args.calls + 1, step):
                hi = min(args.calls, lo + step - 1)
                await conn.execute(GENERATE, lo, hi, args.big_share, TENANTS, args.calls)
                print(
                    f"   generated {hi:,} calls ({time.perf_counter() - started:.0f} s)", flush=True
                )
            gen = time.perf_counter() - started
            await conn.execute("VACUUM (ANALYZE) calls")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('calls'))")
        finally:
            await conn.close()
        print(f"generated {args.calls:,} calls in {gen:.0f} s; calls table {size}")

        db = Database(url, pool_size=4)
        try:
            period = parse_period("month", zone("Europe/Berlin"), month=MONTH)
            t0 = time.perf_counter()
            read = await rebuild(db, period.start, period.end)
            month_rebuild = time.perf_counter() - t0
            print(
                f"rebuild {MONTH} (all {TENANTS} tenants): {read:,} calls in {month_rebuild:.1f} s"
                f" = {read / month_rebuild:,.0f} calls/s"
            )
            if args.all_months:
                t0 = time.perf_counter()
                year = parse_period(
                    "custom", zone("Europe/Berlin"), first="2026-01-01", last="2026-12-31"
                )
                await rebuild(db, year.start, year.end)
                print(f"rebuild of the whole year: {time.perf_counter() - t0:.0f} s")
            async with db.session() as s:
                big = await reports.by_key(s, 1, "queue", period)
            month_calls = sum(c.offered + c.not_offered for c in big.values())
            times = []
            for _ in range(args.reports):
                t0 = time.perf_counter()
                report = await reports.tenant_report(db, 1, period)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"monthly report, tenant 1 ({report['totals']['offered']:,} offered in {MONTH}):"
                f" p50 {statistics.median(times):.1f} ms, p99 {_pct(times, 99):.1f} ms,"
                f" max {max(times):.1f} ms over {len(times)} runs"
            )
            conn = await asyncpg.connect(dsn)
            try:
                t0 = time.perf_counter()
                await conn.fetch(
                    "SELECT outcome, count(*), sum(wait_seconds), sum(talk_seconds) FROM calls"
                    " WHERE tenant_id = 1 AND entered_at >= $1 AND entered_at < $2"
                    " GROUP BY outcome",
                    period.start,
                    period.end,
                )
                raw = (time.perf_counter() - t0) * 1000
                ids = [
                    r[0]
                    for r in await conn.fetch(
                        "SELECT linkedid FROM calls WHERE tenant_id = 1 AND entered_at >= $1"
                        " AND entered_at < $2 LIMIT 2000",
                        period.start,
                        period.end,
                    )
                ]
            finally:
                await conn.close()
            print(f"for comparison, one GROUP BY over the raw rows of that month: {raw:.0f} ms")
            updater = RollupUpdater(db)
            costs = []
            for linkedid in random.Random(7).sample(ids, min(args.finished, len(ids))):
                t0 = time.perf_counter()
                await updater.apply([linkedid])
                costs.append((time.perf_counter() - t0) * 1000)
            print(
                f"rollup cost per finished call (recompute its bucket, ~{month_calls // 2976:,}"
                f" calls per bucket): mean {statistics.fmean(costs):.1f} ms,"
                f" p50 {statistics.median(costs):.1f} ms, p99 {_pct(costs, 99):.1f} ms"
            )
            print(f"run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        finally:
            await db.close()
    finally:
        if args.keep:
            print(f"kept database {name} (drop it by hand)")
        else:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.stats_report", description=__doc__)
    ap.add_argument("--calls", type=int, default=10_000_000)
    ap.add_argument("--big-share", type=float, default=0.3, help="share of tenant 1")
    ap.add_argument("--reports", type=int, default=50, help="report runs to time")
    ap.add_argument("--finished", type=int, default=200, help="single-call rollup updates")
    ap.add_argument("--all-months", action="store_true", help="also rebuild the whole year")
    ap.add_argument("--keep", action="store_true", help="keep the database (for profiling)")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
