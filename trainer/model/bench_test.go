package model

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTrainStep measures forward+backward samples/s at batch 32 on
// the CPU backend (all cores). ViT-B-32 needs ~4 GB and minutes per step:
// run it alone with -bench 'TrainStep/ViT-B-32' -benchtime 1x.
func BenchmarkTrainStep(b *testing.B) {
	const B = 32
	for _, name := range []string{"tiny", "small", "ViT-B-32"} {
		b.Run(name, func(b *testing.B) {
			m := newTestModel(b, name, 1)
			rng := rand.New(rand.NewPCG(1, 1))
			images := randomImages(rng, m.Cfg, B)
			tokens := tokenize(b, m.Cfg, B)
			b.ResetTimer()
			for b.Loop() {
				m.ZeroGrad()
				if _, err := m.Forward(images, tokens, B); err != nil {
					b.Fatal(err)
				}
				if err := m.Backward(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(B*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
