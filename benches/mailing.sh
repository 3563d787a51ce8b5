#!/usr/bin/env bash
# Campaign mailing benchmark (issue 5): COUNT personalised messages of about 5 KB sent by the
# real service (`vocation serve`, release build) through the campaign ledger in PostgreSQL to
# Postfix's `smtp-sink` on loopback, compared in the same run with Postfix's `smtp-source`
# sending the same number of ~5 KB messages over the same number of connections to the same
# kind of sink. smtp-source runs before and after the service, to bracket the machine's noise.
#
#   benches/mailing.sh
#   COUNT=20000 CONNECTIONS=8 benches/mailing.sh
#
# Options (environment):
#   COUNT        messages (default 100000)
#   CONNECTIONS  SMTP connections, for smtp-source (-s) and the service (default 16)
#   BATCH_SIZE   deliveries claimed per claim by a connection (default 200, the service's default)
#   SIZE         smtp-source body length in bytes, -l (default 5000)
#   PG_URL       PostgreSQL server, without database (default postgres://postgres@localhost:5432)
#   SKIP_BUILD   1: do not run `cargo build --release` (it is quick when up to date)
#   BINARY       another build of vocation to measure (to compare two versions); no build then
#   PG_PARAMS    appended to the service's database URL (default '?host=/var/run/postgresql':
#                the service reaches PostgreSQL over its Unix socket, as a service on the
#                database's host would; '' for TCP to PG_URL, which is TLS on Debian's default
#                configuration); the script's own psql calls are unchanged
#   SERVICE_LOG  a file: the service's standard output and error go there (kept after the run)
#   KEEP_DB      1: keep the database at the end (to inspect it); it is dropped otherwise
#   PG_LOG_MS    a number of ms: PostgreSQL logs the bench database's statements slower than
#                that, with their duration (profiling; 0 logs them all, into the server's log)
#   DUMP_DIR     a directory: the sink of the service's phase writes every message it receives
#                there, one file each (to look at them; use a small COUNT)
#   DKIM         1: the service signs every message with DKIM (a new RSA-2048 key made with
#                openssl, relaxed/relaxed, the List-Unsubscribe headers in the signed set)
#   PERF_OUT     a file: `perf record -g` samples the service during its run into it (profiling)
#   PERF_ALL     1: with PERF_OUT, sample the whole machine (PostgreSQL and the sink too)
#
# What is measured, and how (see BENCHMARKS.md, "Campaign mailing"):
#   - smtp-source: wall clock of the smtp-source process (connect, send COUNT messages, quit);
#     the sink's own counter must reach COUNT.
#   - service, "ledger": from the run's started_at (set when the run is materialised, before its
#     COUNT deliveries are inserted) to the last delivery's sent_at, both written by the
#     service in PostgreSQL. "end to end": from the run's created_at (our INSERT) to its
#     finished_at; it adds the coordinator's poll interval (up to 1 s) and the closing.
#   - peak RSS of the service: the kernel's VmHWM at the end, and the largest VmRSS sampled
#     every 100 ms during the run.
#   - CPU: user+system seconds of the service, of its PostgreSQL backends and of the sink, and
#     the machine's busy share and load average, to judge how quiet the machine was.
#   - Checks: COUNT deliveries 'envoye' and none in any other state; the sink counted COUNT.
set -euo pipefail

COUNT=${COUNT:-100000}
CONNECTIONS=${CONNECTIONS:-16}
BATCH_SIZE=${BATCH_SIZE:-200}
SIZE=${SIZE:-5000}
PG_URL=${PG_URL:-postgres://postgres@localhost:5432}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_DB=${KEEP_DB:-0}
PG_PARAMS=${PG_PARAMS-'?host=/var/run/postgresql'}
DUMP_DIR=${DUMP_DIR:-}
PG_LOG_MS=${PG_LOG_MS:-}
DKIM=${DKIM:-0}
PERF_OUT=${PERF_OUT:-}
PERF_ALL=${PERF_ALL:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PF="$ROOT/target/postfix"
SINK_BIN="$PF/usr/sbin/smtp-sink"
SOURCE_BIN="$PF/usr/sbin/smtp-source"
VOCATION=${BINARY:-$ROOT/target/release/vocation}
DB="vocation_bench_mail_$$_$(date +%s)"
WORK=$(mktemp -d /tmp/vocation-bench-mail.XXXXXX)
CLK_TCK=$(getconf CLK_TCK)

SINK_PID=""
SERVICE_PID=""
SAMPLER_PID=""
PERF_PID=""
DB_CREATED=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Everything started here is stopped by its own pid, and the database dropped, whatever happens.
cleanup() {
    local status=$?
    set +e
    for pid in "$PERF_PID" "$SAMPLER_PID" "$SERVICE_PID" "$SINK_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    if [[ "$DB_CREATED" == 1 && "$KEEP_DB" != 1 ]]; then
        psql "$PG_URL/postgres" -qAt -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
    elif [[ "$DB_CREATED" == 1 ]]; then
        log "database kept: $PG_URL/$DB"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# psql on the bench database: quiet, unaligned, stop at the first error. Debian's psql is a
# Perl wrapper that costs more CPU than the query; the binary behind it is called directly,
# so that the script's polling takes as little as possible from the service it measures.
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1)
PSQL=${PSQL:-psql}
sql() { "$PSQL" "$PG_URL/$DB" -qAt -v ON_ERROR_STOP=1 "$@"; }

# A TCP port nobody listens on.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Htln "sport = :$port" | grep -q .; then
            echo "$port"
            return
        fi
    done
}

# user+system CPU seconds of a process (0 if it is gone).
cpu_seconds() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }                         # fields after "(comm) "
    read -r -a f <<<"$stat"                   # f[0] is field 3 (state)
    echo "scale=3; (${f[11]} + ${f[12]}) / $CLK_TCK" | bc
}

# busy and total jiffies of the whole machine, from the first line of /proc/stat.
machine_jiffies() {
    local _cpu user nice system idle iowait irq softirq steal _rest
    read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
    echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

busy_percent() { # before after
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$2"
    echo "scale=0; 100 * ($b1 - $b0) / ($t1 - $t0)" | bc
}

# The machine's CPU used by other processes than ours, in % of all CPUs, over a window.
others_percent() { # before after our-cpu-seconds
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$2"
    echo "scale=3; x = 100 * ($b1 - $b0 - ($3) * $CLK_TCK) / ($t1 - $t0); scale=0; if (x < 0) 0 else x / 1" | bc
}

load1() { cut -d' ' -f1 /proc/loadavg; }

now() { echo "$EPOCHREALTIME"; }

# The last "mesg=N" smtp-sink -c printed (it rewrites one line with \r).
sink_count() { tr '\r' '\n' <"$1" | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }

start_sink() { # port counter-file [dump-directory]
    local opts=(-c)
    [[ $EUID -eq 0 ]] && opts+=(-u nobody)   # as root, smtp-sink must drop privileges
    [[ -n "${3:-}" ]] && opts+=(-d "$3/%H%M%S.")
    LD_LIBRARY_PATH="$PF/usr/lib/postfix" "$SINK_BIN" "${opts[@]}" "127.0.0.1:$1" 1024 \
        >"$2" 2>"$2.err" &
    SINK_PID=$!
    for _ in $(seq 50); do
        ss -Htln "sport = :$1" | grep -q . && return
        sleep 0.1
    done
    die "smtp-sink did not listen on port $1: $(cat "$2.err")"
}

stop_sink() { # sets SINK_CPU, its CPU seconds, and SINK_BYTES, the bytes it read (SMTP included)
    SINK_CPU=$(cpu_seconds "$SINK_PID")
    SINK_BYTES=$(awk '/^rchar/ {print $2}' "/proc/$SINK_PID/io" 2>/dev/null || echo 0)
    kill "$SINK_PID" && wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=""
}

# --- 1. Tools: Postfix's smtp-sink and smtp-source, extracted from Debian's package --------
if [[ ! -x "$SINK_BIN" || ! -x "$SOURCE_BIN" ]]; then
    log "fetching Debian's postfix package for smtp-sink and smtp-source"
    (cd "$WORK" && { apt-get download postfix >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && apt-get download postfix >/dev/null; }; })
    mkdir -p "$PF"
    dpkg -x "$WORK"/postfix_*.deb "$PF"
fi
for tool in bc ss psql; do command -v "$tool" >/dev/null || die "$tool is needed"; done

# --- 2. The service, release build ----------------------------------------------------------
if [[ -z "${BINARY:-}" && ( "$SKIP_BUILD" != 1 || ! -x "$VOCATION" ) ]]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet --bin vocation)
fi

[[ -x "$VOCATION" ]] || die "no binary at $VOCATION"
log "binary: $VOCATION"
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- 3. smtp-source into smtp-sink: the reference ------------------------------------------
# Sets SRC_S (seconds), SRC_N (sink's count), SRC_CPU (smtp-source's CPU seconds), SRC_SINKCPU,
# SRC_BYTES, SRC_LOAD, SRC_BUSY and SRC_OTHERS (other processes' share of the CPUs).
run_source() { # label
    local port j0 j1 user sys
    port=$(free_port)
    start_sink "$port" "$WORK/sink-$1.out"
    SRC_LOAD=$(load1)
    j0=$(machine_jiffies)
    # bash's `time`: wall clock, user and system seconds of smtp-source itself.
    local TIMEFORMAT='%3R %3U %3S'
    { time LD_LIBRARY_PATH="$PF/usr/lib/postfix" "$SOURCE_BIN" -d -s "$CONNECTIONS" \
        -m "$COUNT" -l "$SIZE" -f a@example.org -t b@example.org "127.0.0.1:$port" \
        >"$WORK/source.out" 2>&1; } 2>"$WORK/source.time"
    j1=$(machine_jiffies)
    read -r SRC_S user sys <"$WORK/source.time"
    SRC_CPU=$(echo "$user + $sys" | bc)
    sleep 0.2
    stop_sink
    SRC_SINKCPU=$SINK_CPU
    SRC_OTHERS=$(others_percent "$j0" "$j1" "$SRC_CPU + $SINK_CPU")
    SRC_BYTES=$SINK_BYTES
    SRC_N=$(sink_count "$WORK/sink-$1.out")
    SRC_BUSY=$(busy_percent "$j0" "$j1")
}

log "smtp-source: $COUNT messages of $SIZE bytes over $CONNECTIONS connections"
run_source source1
SRC1_S=$SRC_S SRC1_N=$SRC_N SRC1_SINKCPU=$SRC_SINKCPU SRC1_CPU=$SRC_CPU SRC1_BYTES=$SRC_BYTES SRC1_LOAD=$SRC_LOAD SRC1_BUSY=$SRC_BUSY SRC1_OTHERS=$SRC_OTHERS
[[ "${SRC1_N:-0}" == "$COUNT" ]] || die "smtp-sink counted $SRC1_N messages from smtp-source, not $COUNT"

# --- 4. The service ---------------------------------------------------------------------------
log "database $DB: schema and $COUNT contacts"
psql "$PG_URL/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$DB\"" >/dev/null
DB_CREATED=1
export VOCATION__DATABASE__URL="$PG_URL/$DB$PG_PARAMS" VOCATION__LOG__LEVEL=warn
"$VOCATION" migrate >/dev/null

# Contacts with varied names, cities, kinds and organisations; one list; a template whose
# rendered message (text and HTML parts, headers, the layout's footer) is about 5 KB; a
# campaign at 10,000,000 messages per minute (no pacing in practice), programmed to go now.
sql -v count="$COUNT" >/dev/null <<'SQL'
INSERT INTO organisations (name, kind, city)
SELECT 'Établissement ' || i, (ARRAY['faculte','etablissement','institution','autre'])[1 + i % 4],
       (ARRAY['Auch','Toulouse','Bordeaux','Montpellier','Pau'])[1 + i % 5]
FROM generate_series(1, 50) AS i;
INSERT INTO contacts (email, first_name, last_name, organisation_id, kind, legal_basis, city)
SELECT 'destinataire-' || i || '@example.org',
       (ARRAY['Camille','Léa','Hugo','Chloé','Mathis','Inès','Louis','Zoé','Jules','Anaïs'])[1 + i % 10],
       (ARRAY['Durand','Lefèvre','Moreau','Garcia','Roux','Fournier','Girard','Mercier'])[1 + i % 8]
           || '-' || i,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 50 END,
       (ARRAY['faculte','medecin_retraite','medecin','interne','partenaire'])[1 + i % 5],
       'interet_legitime',
       (ARRAY['Auch','Toulouse','Bordeaux','Montpellier','Pau','Agen','Tarbes'])[1 + i % 7]
FROM generate_series(1, :count) AS i;
INSERT INTO contact_lists (name) VALUES ('Banc d''essai');
INSERT INTO list_members (list_id, contact_id) SELECT currval('contact_lists_id_seq'), id FROM contacts;
INSERT INTO mail_templates (name, subject, body_text, body_html) VALUES (
 'Banc d''essai',
 '{{prenom}}, le Gers recrute des médecins salariés',
 $tpl$Bonjour {{prenom}} {{nom}},

Le Centre départemental de santé du Gers recrute des médecins salariés pour ses centres d'Auch, Condom, Lectoure, Mirande et Nogaro. Nous vous écrivons à {{ville}}{{#if organisation}} ({{organisation}}){{/if}} parce que votre parcours nous intéresse.

Nous proposons un poste salarié, à temps plein ou partiel, sans frais d'installation : secrétariat, facturation et matériel sont pris en charge. Les médecins retraités peuvent nous rejoindre quelques demi-journées par semaine.

Vous exercerez en équipe avec des infirmières, des secrétaires médicales et d'autres médecins ; le Département prend en charge la formation continue.

Candidatez en cinq minutes : {{lien_candidature}}
Nous vous rappellerons dans la semaine pour organiser une visite du centre de votre choix.

{{prenom}}, nous serions heureux de vous accueillir dans le Gers.

L'équipe de recrutement$tpl$,
 '');
INSERT INTO campaigns (name, template_id, sender_name, sender_email, rate_per_minute,
                       schedule_kind, status)
VALUES ('Banc d''essai – médecins', currval('mail_templates_id_seq'), 'Recrutement CDS32',
        'recrutement@vocation.test', 10000000, 'maintenant', 'programmee');
INSERT INTO campaign_lists (campaign_id, list_id)
VALUES (currval('campaigns_id_seq'), currval('contact_lists_id_seq'));
SQL
sql -c "VACUUM ANALYZE" >/dev/null
if [[ -n "$PG_LOG_MS" ]]; then
    sql -c "ALTER DATABASE \"$DB\" SET log_min_duration_statement = $PG_LOG_MS" >/dev/null
fi
psql "$PG_URL/postgres" -qAt -c "CHECKPOINT" >/dev/null

SINK_PORT=$(free_port)
HTTP_PORT=$(free_port)
if [[ -n "$DUMP_DIR" ]]; then
    mkdir -p "$DUMP_DIR"
    chmod 777 "$DUMP_DIR"   # smtp-sink writes as nobody
fi
start_sink "$SINK_PORT" "$WORK/sink-service.out" "$DUMP_DIR"

DKIM_ENV=()
if [[ "$DKIM" == 1 ]]; then
    command -v openssl >/dev/null || die "openssl is needed for DKIM=1"
    openssl genrsa -traditional -out "$WORK/dkim.pem" 2048 2>/dev/null
    DKIM_ENV=(VOCATION__MAIL__DKIM__SELECTOR=banc VOCATION__MAIL__DKIM__DOMAIN=vocation.gers.fr
              VOCATION__MAIL__DKIM__PRIVATE_KEY_FILE="$WORK/dkim.pem")
fi
log "service: $CONNECTIONS connections, batches of $BATCH_SIZE, relay 127.0.0.1:$SINK_PORT, DKIM $DKIM, PostgreSQL ${PG_PARAMS:-over TCP}"
VOCATION__HTTP__PORT=$HTTP_PORT \
VOCATION__HTTP__PUBLIC_URL="https://vocation.gers.fr" \
VOCATION__DATABASE__POOL_SIZE=$((CONNECTIONS + 4)) \
VOCATION__MAIL__TRANSPORT=smtp \
VOCATION__MAIL__SMTP__HOST=127.0.0.1 \
VOCATION__MAIL__SMTP__PORT=$SINK_PORT \
VOCATION__MAIL__SMTP__TLS=none \
VOCATION__MAIL__WORKER__ENABLED=false \
VOCATION__MAIL__OUTBOX_DIR="$WORK/outbox" \
VOCATION__STORAGE__DOCUMENTS_DIR="$WORK/documents" \
VOCATION__CAMPAIGNS__CONNECTIONS=$CONNECTIONS \
VOCATION__CAMPAIGNS__BATCH_SIZE=$BATCH_SIZE \
VOCATION__CAMPAIGNS__TICK_CRON="" \
VOCATION__SCHEDULER__DAILY_DIGEST_CRON="" \
VOCATION__SCHEDULER__OFFER_EXPIRY_CRON="" \
    env "${DKIM_ENV[@]}" "$VOCATION" serve >"${SERVICE_LOG:-$WORK/service.log}" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null && break
    kill -0 "$SERVICE_PID" 2>/dev/null || die "the service stopped: $(cat "$WORK/service.log")"
    sleep 0.1
done
RSS_REST=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVICE_PID/status")

# The largest VmRSS, sampled every 100 ms until the sampler is stopped (it then writes it).
# It waits with `read -t` on a pipe nobody writes to, rather than forking `sleep` ten times
# a second.
(
    max=0
    trap 'echo "$max" >"$WORK/rss-max"; exit 0' TERM
    exec {nap}<> <(:)
    while :; do
        while read -r key value _; do
            [[ "$key" == VmRSS: ]] && ((value > max)) && max=$value
        done <"/proc/$SERVICE_PID/status"
        read -r -t 0.1 -u "$nap" _ || true
    done
) &
SAMPLER_PID=$!

if [[ -n "$PERF_OUT" ]]; then
    if [[ "$PERF_ALL" == 1 ]]; then PERF_SCOPE=(-a); else PERF_SCOPE=(-p "$SERVICE_PID"); fi
    perf record -q -g -F 499 "${PERF_SCOPE[@]}" -o "$PERF_OUT" >/dev/null 2>&1 &
    PERF_PID=$!
fi

SVC_LOAD=$(load1)
WAL0=$(sql -c "SELECT pg_current_wal_lsn()")
XACT0=$(sql -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
J0=$(machine_jiffies)
T0=$(now)
RUN=$(sql -c "INSERT INTO campaign_runs (campaign_id, scheduled_for, status)
              SELECT id, now(), 'planifie' FROM campaigns RETURNING id")
# Wait for the run to end (the claim that finds nothing left closes it at once).
# The figures come from the ledger's timestamps, not from this loop: it polls once a second.
DEADLINE=$((EPOCHSECONDS + 900))
until [[ "$(sql -c "SELECT status FROM campaign_runs WHERE id = $RUN")" == termine ]]; do
    kill -0 "$SERVICE_PID" 2>/dev/null || die "the service stopped: $(cat "$WORK/service.log")"
    ((EPOCHSECONDS > DEADLINE)) && die "the run did not end within 15 minutes"
    sleep 1
done
T1=$(now)
J1=$(machine_jiffies)
WAL_BYTES=$(sql -c "SELECT pg_current_wal_lsn() - '$WAL0'::pg_lsn")
XACTS=$(( $(sql -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - XACT0 ))

kill "$SAMPLER_PID" && wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
if [[ -n "$PERF_PID" ]]; then
    kill -INT "$PERF_PID" && wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
fi
RSS_MAX=$(cat "$WORK/rss-max")
RSS_HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVICE_PID/status")
SVC_CPU=$(cpu_seconds "$SERVICE_PID")
PG_CPU=0
for pid in $(sql -c "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                     AND pid <> pg_backend_pid()"); do
    PG_CPU=$(echo "$PG_CPU + $(cpu_seconds "$pid")" | bc)
done
kill "$SERVICE_PID" && wait "$SERVICE_PID" 2>/dev/null || true
SERVICE_PID=""
sleep 0.2
stop_sink
SVC_SINKCPU=$SINK_CPU
SVC_OTHERS=$(others_percent "$J0" "$J1" "$SVC_CPU + $PG_CPU + $SVC_SINKCPU")
SVC_BYTES=$SINK_BYTES
SVC_SINK_N=$(sink_count "$WORK/sink-service.out")

# Figures and checks from the ledger.
read -r LEDGER_S E2E_S FIRST_S SENT OTHER <<<"$(sql -F ' ' -c "
    SELECT round(extract(epoch FROM max(d.sent_at) - r.started_at)::numeric, 3),
           round(extract(epoch FROM r.finished_at - r.created_at)::numeric, 3),
           round(extract(epoch FROM min(d.sent_at) - r.started_at)::numeric, 3),
           count(*) FILTER (WHERE d.status = 'envoye'),
           count(*) FILTER (WHERE d.status <> 'envoye')
    FROM campaign_runs r JOIN deliveries d ON d.run_id = r.id
    WHERE r.id = $RUN GROUP BY r.id")"
WALL_S=$(echo "$T1 - $T0" | bc)
ATTEMPTS=$(sql -c "SELECT sum(attempts) FROM deliveries WHERE run_id = $RUN")
# Updates of the ledger, and how many were HOT (no index entry written).
read -r UPDATES HOT_UPDATES <<<"$(sql -F ' ' -c "SELECT n_tup_upd, n_tup_hot_upd
    FROM pg_stat_user_tables WHERE relname = 'deliveries'")"

# --- 5. smtp-source again, after the service ------------------------------------------------
log "smtp-source again"
run_source source2
SRC2_S=$SRC_S SRC2_N=$SRC_N SRC2_SINKCPU=$SRC_SINKCPU SRC2_LOAD=$SRC_LOAD SRC2_BUSY=$SRC_BUSY SRC2_OTHERS=$SRC_OTHERS
[[ "${SRC2_N:-0}" == "$COUNT" ]] || die "smtp-sink counted $SRC2_N messages from smtp-source, not $COUNT"

# --- 6. Report --------------------------------------------------------------------------------
rate() { echo "scale=0; $COUNT / $1" | bc; }
SRC_BEST=$(echo "if ($SRC1_S < $SRC2_S) $SRC1_S else $SRC2_S" | bc)
ratio() { echo "scale=2; $SRC_BEST / $1" | bc | sed 's/^\./0./'; }
mb() { echo "scale=1; $1 / 1024" | bc; }
ms_per_msg() { echo "scale=3; 1000 * $1 / $COUNT" | bc | sed 's/^\./0./'; }

echo
echo "Campaign mailing: $COUNT messages, $CONNECTIONS connections, batch $BATCH_SIZE, DKIM $DKIM"
printf '%-24s %9s %8s %7s %6s %9s %5s %5s %7s\n' tool messages seconds msg/s ratio "peak RSS" load busy others
row() { # label messages seconds rss load busy others
    printf '%-24s %9s %8.2f %7s %6s %9s %5s %5s %7s\n' "$1" "$2" "$3" "$(rate "$3")" \
        "$(ratio "$3")" "$4" "$5" "$6" "$7"
}
row "smtp-source (before)" "$SRC1_N" "$SRC1_S" - "$SRC1_LOAD" "$SRC1_BUSY%" "$SRC1_OTHERS%"
row "smtp-source (after)" "$SRC2_N" "$SRC2_S" - "$SRC2_LOAD" "$SRC2_BUSY%" "$SRC2_OTHERS%"
row "vocation (ledger)" "$SENT" "$LEDGER_S" "$(mb "$RSS_HWM") MB" "$SVC_LOAD" \
    "$(busy_percent "$J0" "$J1")%" "$SVC_OTHERS%"
row "vocation (end to end)" "$SENT" "$E2E_S" "$(mb "$RSS_HWM") MB" "" "" ""
echo
echo "ratio: smtp-source's best time / this row's time (target for vocation (ledger): >= 0.4)"
echo "load: 1-min load average at the start; busy: the CPUs' busy share during the phase; others:"
echo "  the share used by processes other than the phase's own (service, its backends, sink, source)"
echo "vocation: first message sent $FIRST_S s after started_at (materialising $COUNT deliveries);"
echo "  end to end from our INSERT of the run to finished_at; script's wall clock $WALL_S s"
echo "RSS: at rest $(mb "$RSS_REST") MB, peak sampled VmRSS $(mb "$RSS_MAX") MB, VmHWM $(mb "$RSS_HWM") MB (target < 100 MB)"
echo "CPU per message (ms): vocation $(ms_per_msg "$SVC_CPU"), its PostgreSQL backends $(ms_per_msg "$PG_CPU"), sink $(ms_per_msg "$SVC_SINKCPU");"
echo "  smtp-source (before) $(ms_per_msg "$SRC1_CPU"), its sink $(ms_per_msg "$SRC1_SINKCPU")"
echo "PostgreSQL: WAL $(echo "$WAL_BYTES / $COUNT" | bc) bytes per message (whole server); deliveries updated $UPDATES times, $HOT_UPDATES HOT;"
echo "  $XACTS transactions committed in the bench database (the script's few polls included)"
echo "bytes per message read by the sink (SMTP dialogue included): vocation $((SVC_BYTES / COUNT)), smtp-source $((SRC1_BYTES / COUNT))"
echo "checks: deliveries envoye $SENT, other $OTHER, attempts $ATTEMPTS; smtp-sink counted $SVC_SINK_N from vocation"
[[ "$SENT" == "$COUNT" && "$OTHER" == 0 && "$SVC_SINK_N" == "$COUNT" ]] \
    || die "checks failed: expected $COUNT deliveries 'envoye' and $COUNT messages at the sink"
echo "RESULT ok"
