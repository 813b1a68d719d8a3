package model

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/clipstream/clipstream/trainer/safetensors"
)

// ConfigMetadataKey is the safetensors metadata key Export writes the
// config name under.
const ConfigMetadataKey = "clipstream.config"

// Export writes the parameters as a safetensors file with open_clip's
// state-dict names, shapes and order (F32), which
// open_clip.create_model(...).load_state_dict(load_file(path), strict=True)
// accepts.
func (m *Model) Export(w io.Writer) error {
	return writeTensors(w, m.layout, m.GetParams(), map[string]string{"format": "pt", ConfigMetadataKey: m.Cfg.Name})
}

// ExportGrads writes the gradients in the same layout as Export.
func (m *Model) ExportGrads(w io.Writer) error {
	return writeTensors(w, m.layout, m.GetGrads(), map[string]string{"format": "pt", ConfigMetadataKey: m.Cfg.Name})
}

func writeTensors(w io.Writer, layout []Param, v []float32, meta map[string]string) error {
	ts := make([]safetensors.Tensor, len(layout))
	for i, p := range layout {
		ts[i] = safetensors.Float32(p.Name, p.Shape, v[p.Off:p.Off+p.Len])
	}
	if err := safetensors.Write(w, ts, meta); err != nil {
		return fmt.Errorf("model: export: %w", err)
	}
	return nil
}

// Import loads parameters from an opened safetensors file, strictly: every
// tensor of the layout must be present with its exact shape (F32, F64, F16
// or BF16), and no other tensor may be (as load_state_dict(strict=True)).
// On any error the model's parameters are unchanged.
func (m *Model) Import(f *safetensors.File) error {
	v, err := readTensors(f, m.layout, m.nParam)
	if err != nil {
		return err
	}
	return m.SetParams(v)
}

func readTensors(f *safetensors.File, layout []Param, n int) ([]float32, error) {
	var missing, unexpected, badShape []string
	want := map[string]bool{}
	for _, p := range layout {
		want[p.Name] = true
		info, ok := f.Lookup(p.Name)
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if !slices.Equal(info.Shape, p.Shape) {
			badShape = append(badShape, fmt.Sprintf("%s is %v, want %v", p.Name, info.Shape, p.Shape))
		}
	}
	for _, t := range f.Tensors {
		if !want[t.Name] {
			unexpected = append(unexpected, t.Name)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, "missing "+list(missing))
	}
	if len(unexpected) > 0 {
		problems = append(problems, "unexpected "+list(unexpected))
	}
	if len(badShape) > 0 {
		problems = append(problems, "wrong shape: "+list(badShape))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("model: import: %s", strings.Join(problems, "; "))
	}
	v := make([]float32, n)
	for _, p := range layout {
		if err := f.ReadFloat32(p.Name, v[p.Off:p.Off+p.Len]); err != nil {
			return nil, fmt.Errorf("model: import: %w", err)
		}
	}
	return v, nil
}

// list joins at most 5 names, saying how many more there are.
func list(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}
