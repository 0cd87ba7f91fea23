// Command allocator-oracle runs upstream's structured allocator
// (k8s.io/dynamic-resource-allocation/structured) on problems read as JSON lines
// from stdin and writes one JSON line per problem to stdout. It is the judge of
// dra.allocator in the differential tests: it does nothing but decode the objects,
// call NewAllocator + Allocate exactly as kube-scheduler does, and encode the answer.
//
// The input and output line formats are documented in dra/testing/oracle.py.
//
// The same source builds against every supported minor: feature fields are set by name
// (reflection), and the few API differences live in files selected by build tags.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"strings"

	v1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/dynamic-resource-allocation/cel"
	"k8s.io/dynamic-resource-allocation/structured"
)

type deviceRef struct {
	Driver  string  `json:"driver"`
	Pool    string  `json:"pool"`
	Device  string  `json:"device"`
	ShareID *string `json:"shareID,omitempty"`
}

type consumed struct {
	Device           deviceRef                    `json:"device"`
	ConsumedCapacity map[string]resource.Quantity `json:"consumedCapacity"`
}

type problem struct {
	ID       json.RawMessage `json:"id"`
	Features map[string]bool `json:"features"`
	// CEL environment features by cel.Features field name; derived from Features when absent
	// (1.36's scheduler enables list types in CEL without passing ListTypeAttributes to the allocator).
	CelFeatures map[string]bool              `json:"celFeatures"`
	Variant     string                       `json:"variant"`
	Classes     []*resourceapi.DeviceClass   `json:"classes"`
	Slices      []*resourceapi.ResourceSlice `json:"slices"`
	Claims      []*resourceapi.ResourceClaim `json:"claims"`
	Node        *v1.Node                     `json:"node"`
	NodeName    string                       `json:"nodeName"`
	Allocated   struct {
		Devices          []deviceRef `json:"devices"`
		SharedDeviceIDs  []deviceRef `json:"sharedDeviceIDs"`
		ConsumedCapacity []consumed  `json:"consumedCapacity"`
	} `json:"allocated"`
}

type answer struct {
	ID            json.RawMessage                `json:"id"`
	Results       []resourceapi.AllocationResult `json:"results"`
	Unschedulable bool                           `json:"unschedulable"`
	Error         *string                        `json:"error"`
	NodeLocal     bool                           `json:"nodeLocal"`
	Variant       string                         `json:"variant,omitempty"`
	Panic         bool                           `json:"panic,omitempty"`
}

type classLister map[string]*resourceapi.DeviceClass

func (l classLister) List() ([]*resourceapi.DeviceClass, error) {
	out := make([]*resourceapi.DeviceClass, 0, len(l))
	for _, c := range l {
		out = append(out, c)
	}
	return out, nil
}

func (l classLister) Get(name string) (*resourceapi.DeviceClass, error) {
	if c, ok := l[name]; ok {
		return c, nil
	}
	// The scheduler's lister returns a NotFound error; the allocator wraps it.
	return nil, fmt.Errorf("deviceclass.resource.k8s.io %q not found", name)
}

// features sets upstream Features fields by name, so that one source serves all minors.
func features(names map[string]bool) (structured.Features, error) {
	var f structured.Features
	v := reflect.ValueOf(&f).Elem()
	for name, on := range names {
		if !on {
			continue
		}
		if fv := v.FieldByName(name); fv.IsValid() && fv.Kind() == reflect.Bool {
			fv.SetBool(true)
			continue
		}
		if alias, ok := featureAliases[name]; ok {
			for _, a := range alias {
				v.FieldByName(a).SetBool(true)
			}
			continue
		}
		return f, fmt.Errorf("unknown allocator feature %q for this Kubernetes version", name)
	}
	return f, nil
}

func celFeatures(f structured.Features) cel.Features {
	var cf cel.Features
	fv := reflect.ValueOf(f)
	cv := reflect.ValueOf(&cf).Elem()
	// As the scheduler does: the CEL environment follows the allocator features.
	for feature, celField := range map[string]string{
		"ConsumableCapacity": "EnableConsumableCapacity",
		"ListTypeAttributes": "EnableListTypeAttributes",
	} {
		if src := fv.FieldByName(feature); src.IsValid() && src.Bool() {
			if dst := cv.FieldByName(celField); dst.IsValid() {
				dst.SetBool(true)
			}
		}
	}
	return cf
}

func allocatedState(p *problem) structured.AllocatedState {
	st := structured.AllocatedState{
		AllocatedDevices:         sets.New[structured.DeviceID](),
		AllocatedSharedDeviceIDs: sets.New[structured.SharedDeviceID](),
		AggregatedCapacity:       structured.NewConsumedCapacityCollection(),
	}
	for _, d := range p.Allocated.Devices {
		st.AllocatedDevices.Insert(structured.MakeDeviceID(d.Driver, d.Pool, d.Device))
	}
	for _, d := range p.Allocated.SharedDeviceIDs {
		var uid *types.UID
		if d.ShareID != nil {
			u := types.UID(*d.ShareID)
			uid = &u
		}
		st.AllocatedSharedDeviceIDs.Insert(structured.MakeSharedDeviceID(structured.MakeDeviceID(d.Driver, d.Pool, d.Device), uid))
	}
	for _, c := range p.Allocated.ConsumedCapacity {
		caps := map[resourceapi.QualifiedName]resource.Quantity{}
		for k, q := range c.ConsumedCapacity {
			caps[resourceapi.QualifiedName(k)] = q
		}
		st.AggregatedCapacity.Insert(structured.NewDeviceConsumedCapacity(
			structured.MakeDeviceID(c.Device.Driver, c.Device.Pool, c.Device.Device), caps))
	}
	return st
}

func solve(ctx context.Context, p *problem) (ans answer) {
	ans.ID = p.ID
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
			ans.Results, ans.Error, ans.Panic = nil, &msg, true
		}
	}()
	fail := func(err error) answer {
		msg := err.Error()
		ans.Error = &msg
		ans.NodeLocal = isNodeLocal(err)
		return ans
	}
	f, err := features(p.Features)
	if err != nil {
		return fail(err)
	}
	if err := enableVariant(p.Variant); err != nil {
		return fail(err)
	}
	classes := classLister{}
	for _, c := range p.Classes {
		if _, dup := classes[c.Name]; !dup {
			classes[c.Name] = c
		}
	}
	node := p.Node
	if node == nil && p.NodeName != "" {
		node = &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: p.NodeName}}
	}
	cf := celFeatures(f)
	if p.CelFeatures != nil {
		cf = cel.Features{}
		cv := reflect.ValueOf(&cf).Elem()
		for name, on := range p.CelFeatures {
			if fv := cv.FieldByName(name); fv.IsValid() && fv.Kind() == reflect.Bool {
				fv.SetBool(on)
			} else if on {
				return fail(fmt.Errorf("unknown CEL feature %q for this Kubernetes version", name))
			}
		}
	}
	cache := cel.NewCache(100, cf)
	alloc, err := structured.NewAllocator(ctx, f, allocatedState(p), classes, p.Slices, cache)
	if err != nil {
		return fail(err)
	}
	ans.Variant = variantOf(alloc)
	results, err := alloc.Allocate(ctx, node, p.Claims)
	if err != nil {
		return fail(err)
	}
	if results == nil {
		ans.Unschedulable = true
		return ans
	}
	ans.Results = results
	return ans
}

func variantOf(a structured.Allocator) string {
	t := reflect.TypeOf(a)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	return pkg[strings.LastIndex(pkg, "/")+1:]
}

func main() {
	ctx := context.Background()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(minorVersion)
		return
	}
	for {
		line, err := in.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var p problem
			var ans answer
			if derr := json.Unmarshal(line, &p); derr != nil {
				msg := "decode: " + derr.Error()
				ans = answer{ID: p.ID, Error: &msg}
			} else {
				ans = solve(ctx, &p)
			}
			if ans.ID == nil {
				ans.ID = json.RawMessage("null")
			}
			if eerr := enc.Encode(&ans); eerr != nil {
				fmt.Fprintln(os.Stderr, "encode:", eerr)
				os.Exit(1)
			}
			// Flush per answer: the Python client streams and waits for each line.
			if in.Buffered() == 0 {
				out.Flush()
			}
		}
		if err != nil {
			out.Flush()
			return
		}
	}
}
