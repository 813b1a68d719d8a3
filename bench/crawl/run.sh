#!/usr/bin/env bash
# bench/crawl/run.sh — crawl throughput against img2dataset on one URL list.
#
# bench/crawl/server fetches the four emoji-datasource vendors' images into
# the cache (npm, ~15,000 real 64 px PNGs; reused when there) and serves them
# on LISTENERS loopback addresses 127.0.0.1 … 127.0.0.LISTENERS, writing a csv
# URL list (url,caption) spread round-robin over those hosts. The same list
# is then crawled, COUNT times each and in alternating order, by
#   ours: clipstream crawl --url-list … --allow-private --host-delay 0
#         (one request in flight per host still holds, so LISTENERS caps its
#         concurrency; robots.txt is fetched per host; every sample goes
#         through the dedup index and into zstd shards), and
#   img2dataset (PyPI, in a venv under ~/.cache/clipstream): processes_count 1,
#         thread_count THREADS, webdataset output; it has no per-host limits.
# Both resize as img2dataset's border mode at 256 px, only if bigger (our
# only mode; img2dataset's resize_only_if_bigger=True), alpha on white, JPEG
# at quality 95. CPU-seconds are user+sys of each process tree
# (/usr/bin/time); the server runs in its own process and is not counted.
# A 1-URL run of each tool measures its fixed start-up cost.
#
#   bench/crawl/run.sh [COUNT]
#   env: LISTENERS (64), THREADS (64, img2dataset), WORKERS (256, ours),
#        UPSCALE (0: serve as fetched; PX: serve PNGs upscaled to PX)
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-3}
LISTENERS=${LISTENERS:-64}
THREADS=${THREADS:-64}
WORKERS=${WORKERS:-256}
UPSCALE=${UPSCALE:-0}
VENV=${IMG2DATASET_VENV:-$HOME/.cache/clipstream/venv-img2dataset}

if [ ! -x "$VENV/bin/img2dataset" ]; then
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q img2dataset
fi
work=$(mktemp -d /tmp/clipstream-bench-crawl.XXXXXX)
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/clipstream" ./cmd/clipstream
go build -o "$work/server" ./bench/crawl/server
"$work/server" -listeners "$LISTENERS" -upscale "$UPSCALE" -list "$work/urls.csv" -max-time 2h 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 900); do
	[ -f "$work/urls.csv" ] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
	sleep 1
done
[ -f "$work/urls.csv" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
cat "$work/server.log" >&2
head -2 "$work/urls.csv" >"$work/one.csv"

mkdir -p bench/out
raw=bench/out/crawl-$(date +%Y%m%d-%H%M%S).txt
{
	echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(go version | cut -d' ' -f3)," \
		"img2dataset $("$VENV/bin/pip" show img2dataset 2>/dev/null | awk '/^Version/{print $2}');" \
		"listeners=$LISTENERS threads=$THREADS workers=$WORKERS upscale=$UPSCALE urls=$(($(wc -l <"$work/urls.csv") - 1))"
} | tee "$raw" >&2

# ours LIST TAG: one clipstream crawl into a fresh corpus and index.
ours() {
	local d="$work/ours-$2"
	rm -rf "$d" "$d.index"
	/usr/bin/time -f "%e %U %S %M" -o "$d.time" "$work/clipstream" crawl --out "$d" --url-list "$1" \
		--allow-private --host-delay 0 --workers "$WORKERS" \
		--resize-mode border --image-size 256 --jpeg-quality 95 >"$d.out" 2>"$d.err" || {
		cat "$d.out" "$d.err" >&2
		exit 1
	}
	# processed = fetched, decoded and resized: kept or dropped as a duplicate.
	awk -v tag="$2" -v t="$(cat "$d.time")" '
		/^  (ok|duplicate_[a-z]+) / { proc += $2 } /^  ok / { ok = $2 }
		/^  [a-z_]+ +[0-9]+$/ && !/^  (ok|duplicate_)/ { bad += $2 }
		END { split(t, a, " "); printf "ours %s wall=%s user=%s sys=%s maxrss_kb=%s processed=%d written=%d failed=%d\n", tag, a[1], a[2], a[3], a[4], proc, ok, bad }' "$d.out"
	rm -rf "$d" "$d.index"
}

# i2d LIST TAG: one img2dataset run into a fresh folder.
i2d() {
	local d="$work/i2d-$2"
	rm -rf "$d"
	/usr/bin/time -f "%e %U %S %M" -o "$d.time" "$VENV/bin/img2dataset" --url_list "$1" --input_format csv \
		--url_col url --caption_col caption --output_format webdataset --output_folder "$d" \
		--processes_count 1 --thread_count "$THREADS" --resize_mode border --image_size 256 \
		--resize_only_if_bigger True --encode_quality 95 --disable_all_reencoding False \
		--number_sample_per_shard 10000 --enable_wandb False >"$d.out" 2>&1 || {
		cat "$d.out" >&2
		exit 1
	}
	cat "$d"/*_stats.json | awk -v tag="$2" -v t="$(cat "$d.time")" '
		/"successes"/ { gsub(/[^0-9]/, "", $2); ok += $2 } /"count"/ { gsub(/[^0-9]/, "", $2); n += $2 }
		END { split(t, a, " "); printf "img2dataset %s wall=%s user=%s sys=%s maxrss_kb=%s processed=%d written=%d failed=%d\n", tag, a[1], a[2], a[3], a[4], ok, ok, n - ok }'
	rm -rf "$d"
}

ours "$work/one.csv" startup | tee -a "$raw" >&2
i2d "$work/one.csv" startup | tee -a "$raw" >&2
for i in $(seq "$COUNT"); do
	if [ $((i % 2)) = 1 ]; then
		ours "$work/urls.csv" "run$i" | tee -a "$raw" >&2
		i2d "$work/urls.csv" "run$i" | tee -a "$raw" >&2
	else
		i2d "$work/urls.csv" "run$i" | tee -a "$raw" >&2
		ours "$work/urls.csv" "run$i" | tee -a "$raw" >&2
	fi
done

awk '
function val(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2) + 0 }
function median(s,   a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
/^#/ { next }
$2 == "startup" { st[$1] = val("user") + val("sys"); stw[$1] = val("wall"); next }
{
	t = $1; cpu = val("user") + val("sys")
	proc[t] = proc[t] " " val("processed"); wr[t] = wr[t] " " val("written"); fl[t] = fl[t] " " val("failed")
	wall[t] = wall[t] " " val("wall"); cs[t] = cs[t] " " cpu; rss[t] = rss[t] " " val("maxrss_kb") / 1024
	rate[t] = rate[t] " " val("processed") / val("wall"); pc[t] = pc[t] " " val("processed") / cpu
	net[t] = net[t] " " val("processed") / (cpu - st[t])
}
END {
	printf "%-12s %9s %8s %6s %7s %10s %7s %14s %15s %8s\n", "crawler", "processed", "written", "failed", "wall-s", "samples/s", "cpu-s", "samples/cpu-s", "excl. start-up", "peak-MB"
	split("ours img2dataset", order, " ")
	for (i = 1; i <= 2; i++) { t = order[i]
		printf "%-12s %9d %8d %6d %7.1f %10.0f %7.1f %14.0f %15.0f %8.0f\n", t, median(proc[t]), median(wr[t]), median(fl[t]), median(wall[t]), median(rate[t]), median(cs[t]), median(pc[t]), median(net[t]), median(rss[t]) }
	printf "start-up (1-URL list): ours %.1f cpu-s %.1f s wall, img2dataset %.1f cpu-s %.1f s wall\n", st["ours"], stw["ours"], st["img2dataset"], stw["img2dataset"]
	printf "ratio ours/img2dataset samples per CPU-second (per core), medians: %.2f (excl. start-up %.2f)\n", median(pc["ours"]) / median(pc["img2dataset"]), median(net["ours"]) / median(net["img2dataset"])
}' "$raw" | tee -a "$raw"
