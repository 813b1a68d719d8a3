// Command loaderbench builds the loader benchmark's shards and measures
// clipstream's loader on them. bench/loader/run.sh drives it, beside the
// Python webdataset anchor (wds_loader.py) on the same shards.
//
//	loaderbench gen -dir DIR [-n 4000] [-shard 250]
//	    write N photo-like 256 px JPEG samples as committed shards at file://DIR
//	loaderbench run -url URL [-epochs 1] [-label NAME]
//	    deliver 224 px training batches of 64 for whole epochs; one RESULT line
//	loaderbench s3 -dir DIR [-runs 3] [-latency 50ms]
//	    copy the shards into a new bucket of the MinIO that scripts/minio.sh
//	    started, then alternate runs through an in-process toxiproxy without
//	    and with the added latency; one RESULT line per run
//
// RESULT lines carry samples, wall and CPU seconds (user+system of the whole
// process), samples/s and samples per CPU-second ("per core").
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/clipstream/clipstream/loader"
	"github.com/clipstream/clipstream/shardwriter"
	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/trainer/tokenizer"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("loaderbench: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: loaderbench gen|run|s3 [flags]")
	}
	ctx := context.Background()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(ctx, os.Args[2:])
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "s3":
		err = s3Cmd(ctx, os.Args[2:])
	case "proxy-server":
		err = proxyServer(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// photo is a 256×256 photo-like image: a two-colour gradient, soft-edged
// ellipses, a fine texture and sensor noise (luma and chroma), so that at
// quality 90 its JPEG is 25–45 KB with the entropy of a resized photo.
func photo(idx int) []byte {
	const S = 256
	r := mrand.New(mrand.NewPCG(uint64(idx), 0x10ade7))
	img := image.NewRGBA(image.Rect(0, 0, S, S))
	type ellipse struct {
		cx, cy, rx, ry, soft float64
		c                    [3]float64
	}
	es := make([]ellipse, 3+r.IntN(5))
	for i := range es {
		es[i] = ellipse{r.Float64() * S, r.Float64() * S, 15 + r.Float64()*90, 15 + r.Float64()*90, 1 + r.Float64()*12,
			[3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}}
	}
	var c0, c1 [3]float64
	for k := range 3 {
		c0[k], c1[k] = r.Float64()*255, r.Float64()*255
	}
	ang := r.Float64() * 2 * math.Pi
	ca, sa := math.Cos(ang), math.Sin(ang)
	fx, fy, ph := 0.1+r.Float64()*0.5, 0.1+r.Float64()*0.5, r.Float64()*6
	var sx, sy [S]float64
	for i := range S {
		sx[i], sy[i] = math.Sin(float64(i)*fx+ph), math.Sin(float64(i)*fy)
	}
	sigma := 9 + r.Float64()*12
	for y := range S {
		for x := range S {
			t := ((float64(x)-S/2)*ca+(float64(y)-S/2)*sa)/(S*1.42) + 0.5
			var c [3]float64
			for k := range 3 {
				c[k] = c0[k]*(1-t) + c1[k]*t
			}
			for _, e := range es {
				dx, dy := (float64(x)-e.cx)/e.rx, (float64(y)-e.cy)/e.ry
				a := min(max((1-math.Sqrt(dx*dx+dy*dy))*e.rx/e.soft+0.5, 0), 1)
				for k := range 3 {
					c[k] += (e.c[k] - c[k]) * a
				}
			}
			tex := 10 * sx[x] * sy[y]
			n := r.NormFloat64() * sigma
			o := img.PixOffset(x, y)
			for k := range 3 {
				img.Pix[o+k] = uint8(min(max(c[k]+tex+n+r.NormFloat64()*sigma*0.4, 0), 255))
			}
			img.Pix[o+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

var words = strings.Fields("a the photo picture of red green blue old small large wooden stone house tree river dog cat " +
	"street market mountain lake boat bridge garden child woman man sunset morning city field flowers car bicycle")

func sample(idx int, img []byte) shardwriter.Sample {
	r := mrand.New(mrand.NewPCG(uint64(idx), 0xca9))
	var cap strings.Builder
	for i := range 8 + r.IntN(12) {
		if i > 0 {
			cap.WriteByte(' ')
		}
		cap.WriteString(words[r.IntN(len(words))])
	}
	meta, _ := json.Marshal(map[string]any{
		"url": fmt.Sprintf("https://images.example.com/photos/%d/large.jpg", idx), "page_url": fmt.Sprintf("https://example.com/gallery/page-%d.html", idx/20),
		"caption_source": "alt", "width": 256, "height": 256, "original_width": 1024 + idx%400, "original_height": 768 + idx%300,
		"status": "ok",
	})
	return shardwriter.Sample{Key: fmt.Sprintf("s%08d", idx), Image: img, Caption: cap.String(), Meta: meta}
}

func gen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to write the dataset into (file://DIR)")
	n := fs.Int("n", 4000, "samples")
	per := fs.Int("shard", 250, "samples per shard")
	_ = fs.Parse(args)
	if *dir == "" {
		return errors.New("gen: -dir is required")
	}
	store, err := storage.Open(ctx, "file://"+*dir, storage.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	w, err := shardwriter.New(ctx, store, shardwriter.Options{WriterID: "bench", MaxSamples: *per})
	if err != nil {
		return err
	}
	// Images are made in parallel, written in order.
	imgs := make([][]byte, *n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				imgs[i] = photo(i)
			}
		})
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	var total, lo, hi int
	lo = math.MaxInt
	for i, img := range imgs {
		total += len(img)
		lo, hi = min(lo, len(img)), max(hi, len(img))
		if err := w.Write(ctx, sample(i, img)); err != nil {
			return err
		}
	}
	if err := w.Close(ctx); err != nil {
		return err
	}
	fmt.Printf("wrote %d samples in shards of %d to file://%s: JPEG mean %.1f KB (%.1f–%.1f)\n",
		*n, *per, *dir, float64(total)/float64(*n)/1000, float64(lo)/1000, float64(hi)/1000)
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// measure opens a loader on url and delivers epochs whole epochs of
// 224 px training batches of 64 (tokenised captions included), timing the
// iteration only (not the listing in New).
func measure(ctx context.Context, url string, opts storage.Options, epochs int, tok loader.Tokenizer) (res result, err error) {
	l, err := loader.New(ctx, loader.Config{
		Sources: []loader.Source{{URL: url}}, Store: opts,
		BatchSize: 64, BlockShards: 4, Tokenizer: tok,
	})
	if err != nil {
		return res, err
	}
	defer l.Close()
	cpu0, t0 := cpuSeconds(), time.Now()
	for e := range epochs {
		it, err := l.Iter(ctx, loader.State{Seed: 1, Epoch: e})
		if err != nil {
			return res, err
		}
		for {
			b, err := it.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				it.Close()
				return res, err
			}
			res.samples += b.N
			b.Release()
		}
		if err := it.Close(); err != nil {
			return res, err
		}
	}
	res.wall, res.cpu = time.Since(t0).Seconds(), cpuSeconds()-cpu0
	m := l.Metrics()
	res.skipped = m.SkippedTotal
	res.stall = m.Stall.Seconds()
	res.fetchWait = m.FetchWait.Seconds()
	return res, nil
}

type result struct {
	samples   int
	wall, cpu float64
	stall     float64
	fetchWait float64
	skipped   int64
}

func (r result) print(label string) {
	fmt.Printf("RESULT label=%s procs=%d samples=%d wall_s=%.3f cpu_s=%.3f samples_per_s=%.1f samples_per_cpu_s=%.1f stall_s=%.3f fetch_wait_s=%.3f skipped=%d\n",
		label, runtime.GOMAXPROCS(0), r.samples, r.wall, r.cpu, float64(r.samples)/r.wall, float64(r.samples)/r.cpu, r.stall, r.fetchWait, r.skipped)
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "dataset URL")
	epochs := fs.Int("epochs", 1, "whole epochs to deliver")
	label := fs.String("label", "go", "label of the RESULT line")
	prof := fs.String("cpuprofile", "", "write a CPU profile of the run here")
	_ = fs.Parse(args)
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	tok, err := tokenizer.New()
	if err != nil {
		return err
	}
	res, err := measure(ctx, *url, storage.Options{}, *epochs, tok)
	if err != nil {
		return err
	}
	res.print(*label)
	return nil
}

// s3Cmd copies the dataset at file://DIR into a new bucket, then measures
// the loader through a toxiproxy in front of MinIO, alternating runs
// without and with the latency toxic (downstream: every response, so every
// request, arrives latency later).
func s3Cmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("s3", flag.ExitOnError)
	dir := fs.String("dir", "", "dataset written by gen")
	runs := fs.Int("runs", 3, "runs of each kind")
	epochs := fs.Int("epochs", 1, "whole epochs per run")
	latency := fs.Duration("latency", 50*time.Millisecond, "latency added to every response")
	proc := fs.Bool("proxy-process", false, "run the toxiproxy in a child process (its own cores), not in this one")
	proxyProcs := fs.Int("proxy-procs", 1, "GOMAXPROCS of the proxy's child process")
	prof := fs.String("cpuprofile", "", "write CPU profiles of the runs without and with latency to PREFIX-plain.pprof and PREFIX-latency.pprof")
	_ = fs.Parse(args)
	var profs [2]*os.File
	if *prof != "" {
		for i, name := range []string{"-plain.pprof", "-latency.pprof"} {
			f, err := os.Create(*prof + name)
			if err != nil {
				return err
			}
			defer f.Close()
			profs[i] = f
		}
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" || *dir == "" {
		return errors.New("s3: needs -dir and a MinIO (run under scripts/minio.sh run)")
	}
	bucket, cleanup, err := makeBucket(ctx, endpoint)
	if err != nil {
		return err
	}
	defer cleanup()
	url := "s3://" + bucket + "/ds"
	if err := copyDataset(ctx, "file://"+*dir, url); err != nil {
		return err
	}
	var px latencyProxy
	if *proc {
		px, err = startProxyProcess(ctx, strings.TrimPrefix(endpoint, "http://"), *proxyProcs)
	} else {
		px, err = startProxyInProcess(strings.TrimPrefix(endpoint, "http://"))
	}
	if err != nil {
		return err
	}
	defer px.close()
	opts := storage.Options{Endpoint: "http://" + px.listen()}
	tok, err := tokenizer.New()
	if err != nil {
		return err
	}
	base := "s3"
	if *proc {
		base = fmt.Sprintf("s3-p%d", runtime.GOMAXPROCS(0))
	}
	for r := range *runs {
		// ABBA order: the second run of a pair is not always the one with
		// latency (a process's later runs can differ from its earlier ones)
		order := []bool{false, true}
		if r%2 == 1 {
			order = []bool{true, false}
		}
		for _, lat := range order {
			label := base
			if lat {
				if err := px.setLatency(*latency); err != nil {
					return err
				}
				label = fmt.Sprintf("%s+%dms", base, latency.Milliseconds())
			}
			// One profile per kind of run, over all its runs: a profile
			// restarted per run would overwrite the file, so only the
			// first run of each kind is profiled.
			profiling := false
			if f := profs[map[bool]int{false: 0, true: 1}[lat]]; f != nil {
				if st, _ := f.Stat(); st != nil && st.Size() == 0 {
					profiling = pprof.StartCPUProfile(f) == nil
				}
			}
			res, err := measure(ctx, url, opts, *epochs, tok)
			if profiling {
				pprof.StopCPUProfile()
			}
			if lat {
				if rerr := px.clear(); rerr != nil && err == nil {
					err = rerr
				}
			}
			if err != nil {
				return err
			}
			res.print(label)
		}
	}
	return nil
}

// latencyProxy is a toxiproxy in front of MinIO that can add latency to
// every response.
type latencyProxy interface {
	listen() string
	setLatency(time.Duration) error
	clear() error
	close()
}

// inProcess runs the toxiproxy inside the benchmark process: its work
// shares the loader's cores.
type inProcess struct{ p *toxiproxy.Proxy }

func startProxyInProcess(upstream string) (latencyProxy, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "minio", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, err
	}
	return inProcess{p}, nil
}

func (x inProcess) listen() string { return x.p.Listen }
func (x inProcess) setLatency(d time.Duration) error {
	toxic := fmt.Sprintf(`{"name":"lat","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":%d,"jitter":0}}`, d.Milliseconds())
	_, err := x.p.Toxics.AddToxicJson(strings.NewReader(toxic))
	return err
}
func (x inProcess) clear() error { return x.p.Toxics.RemoveToxic(context.Background(), "lat") }
func (x inProcess) close()       { x.p.Stop() }

// outOfProcess runs the toxiproxy server in a child process (this binary's
// proxy-server command) with its own GOMAXPROCS, driven through its HTTP
// API, so that with the loader at GOMAXPROCS=1 the proxy's work lands on
// another core, as a remote store's would.
type outOfProcess struct {
	cmd   *exec.Cmd
	proxy *toxiclient.Proxy
}

func startProxyProcess(ctx context.Context, upstream string, procs int) (latencyProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.CommandContext(ctx, os.Args[0], "proxy-server", "-port", port)
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", procs))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := toxiclient.NewClient("127.0.0.1:" + port)
	var px *toxiclient.Proxy
	for i := 0; ; i++ {
		if px, err = c.CreateProxy("minio", "127.0.0.1:0", upstream); err == nil {
			break
		}
		if i == 100 {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("proxy-server on port %s: %w", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &outOfProcess{cmd: cmd, proxy: px}, nil
}

func (x *outOfProcess) listen() string { return x.proxy.Listen }
func (x *outOfProcess) setLatency(d time.Duration) error {
	_, err := x.proxy.AddToxic("lat", "latency", "downstream", 1, toxiclient.Attributes{"latency": d.Milliseconds(), "jitter": 0})
	return err
}
func (x *outOfProcess) clear() error { return x.proxy.RemoveToxic("lat") }
func (x *outOfProcess) close() {
	x.cmd.Process.Kill()
	x.cmd.Wait()
}

// proxyServer serves the toxiproxy HTTP API on 127.0.0.1:PORT until killed.
func proxyServer(args []string) error {
	fs := flag.NewFlagSet("proxy-server", flag.ExitOnError)
	port := fs.String("port", "", "API port")
	_ = fs.Parse(args)
	if *port == "" {
		return errors.New("proxy-server: needs -port")
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Listen("127.0.0.1", *port)
	return nil
}

func makeBucket(ctx context.Context, endpoint string) (string, func(), error) {
	c, err := minio.New(strings.TrimPrefix(endpoint, "http://"), &minio.Options{
		Creds:  credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Region: os.Getenv("AWS_REGION"),
	})
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "cs-loaderbench-" + hex.EncodeToString(b[:])
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return "", nil, fmt.Errorf("make bucket: %w", err)
	}
	return bucket, func() {
		_ = c.RemoveBucketWithOptions(context.Background(), bucket, minio.RemoveBucketOptions{ForceDelete: true})
	}, nil
}

// copyDataset copies every data object, then every sidecar (the commit
// order), from one store to another.
func copyDataset(ctx context.Context, from, to string) error {
	src, err := storage.Open(ctx, from, storage.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := storage.Open(ctx, to, storage.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	var data, sidecars []storage.ObjectInfo
	for info, err := range src.List(ctx, shardwriter.ShardsDir) {
		if err != nil {
			return err
		}
		if strings.HasSuffix(info.Key, shardwriter.SidecarSuffix) {
			sidecars = append(sidecars, info)
		} else {
			data = append(data, info)
		}
	}
	for _, info := range append(data, sidecars...) {
		rc, err := src.Get(ctx, info.Key)
		if err != nil {
			return err
		}
		err = dst.Put(ctx, info.Key, rc, info.Size)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
