// Command celoracle evaluates Kubernetes DRA CEL device selectors with upstream's own
// k8s.io/dynamic-resource-allocation/cel package, so that dra.cel can be compared with it.
//
// It reads JSON lines on stdin:
//
//	{"id": "1", "expression": "...", "features": {"consumableCapacity": true, "listTypeAttributes": false},
//	 "device": {"driver": "d.example.com", "allowMultipleAllocations": false,
//	            "attributes": {"model": {"string": "a"}}, "capacity": {"memory": {"value": "1Gi"}}},
//	 "costLimit": 1000000, "stored": false, "derived": false}
//
// and writes one JSON line per input line:
//
//	{"id": "1", "compileError": "...", "maxCost": 123, "matches": true, "evalError": "...", "cost": 7}
//
// With "derived" (1.37) the expression is a derived attribute: "attribute" (a DeviceAttribute)
// replaces "matches".
//
// compileError is CompilationResult.Error.Detail (NewExpressions environment unless "stored" is
// true, cost estimation on, as the API server validates a new selector). When it compiles and a
// device is given, the expression is evaluated with DeviceMatches under costLimit (upstream's
// default, 1e6, when absent); evalError is the error as the allocator reports it (with the 1.37
// "no such key" hint where that minor has it). One process serves many lines; it exits at EOF.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/cel-go/cel"
	resourceapi "k8s.io/api/resource/v1"
	"k8s.io/apiserver/pkg/cel/environment"
	dracel "k8s.io/dynamic-resource-allocation/cel"
)

type features struct {
	ConsumableCapacity bool `json:"consumableCapacity"`
	ListTypeAttributes bool `json:"listTypeAttributes"`
}

type device struct {
	Driver                   string                                                    `json:"driver"`
	AllowMultipleAllocations *bool                                                     `json:"allowMultipleAllocations"`
	Attributes               map[resourceapi.QualifiedName]resourceapi.DeviceAttribute `json:"attributes"`
	Capacity                 map[resourceapi.QualifiedName]resourceapi.DeviceCapacity  `json:"capacity"`
}

type request struct {
	ID         string   `json:"id"`
	Expression string   `json:"expression"`
	Features   features `json:"features"`
	Device     *device  `json:"device"`
	CostLimit  *uint64  `json:"costLimit"`
	Stored     bool     `json:"stored"`
	// Derived compiles (and evaluates) a 1.37 derived attribute instead of a selector.
	Derived bool `json:"derived"`
}

type response struct {
	ID           string  `json:"id"`
	CompileError *string `json:"compileError,omitempty"`
	MaxCost      *uint64 `json:"maxCost,omitempty"`
	Matches      *bool   `json:"matches,omitempty"`
	Attribute    any     `json:"attribute,omitempty"`
	EvalError    *string `json:"evalError,omitempty"`
	Cost         *uint64 `json:"cost,omitempty"`
	Error        *string `json:"error,omitempty"`
}

// celCompiler is what cel.GetCompiler returns (an unexported type with an exported method).
type celCompiler interface {
	CompileCELExpression(expression string, options dracel.Options) dracel.CompilationResult
}

// GetCompiler keeps one compiler and rebuilds the whole environment when the features
// change; questions alternate between feature sets, so keep one per set.
var compilers = map[features]celCompiler{}

func compilerFor(f features) celCompiler {
	c, ok := compilers[f]
	if !ok {
		c = dracel.GetCompiler(compilerFeatures(f))
		compilers[f] = c
	}
	return c
}

func handle(line []byte) response {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		msg := "bad request: " + err.Error()
		return response{Error: &msg}
	}
	resp := response{ID: req.ID}
	envType := environment.NewExpressions
	if req.Stored {
		envType = environment.StoredExpressions
	}
	opts := dracel.Options{EnvType: &envType, CostLimit: req.CostLimit}
	if req.Derived && !derivedOptions(&opts) {
		msg := "derived attributes need Kubernetes 1.37"
		return response{ID: req.ID, Error: &msg}
	}
	result := compilerFor(req.Features).CompileCELExpression(req.Expression, opts)
	if result.Error != nil {
		detail := result.Error.Detail
		resp.CompileError = &detail
		return resp
	}
	maxCost := result.MaxCost
	resp.MaxCost = &maxCost
	if req.Device == nil {
		return resp
	}
	device := dracel.Device{
		Driver:                   req.Device.Driver,
		AllowMultipleAllocations: req.Device.AllowMultipleAllocations,
		Attributes:               req.Device.Attributes,
		Capacity:                 req.Device.Capacity,
	}
	// A derived attribute gives a DeviceAttribute, a selector a bool; cost and errors alike.
	var value any
	var details *cel.EvalDetails
	var err error
	if req.Derived {
		value, details, err = evalDerived(result, device)
	} else {
		var matches bool
		matches, details, err = result.DeviceMatches(context.Background(), device)
		value = matches
	}
	if details != nil && details.ActualCost() != nil {
		cost := *details.ActualCost()
		resp.Cost = &cost
	}
	if err != nil {
		msg := enhance(err).Error()
		resp.EvalError = &msg
		return resp
	}
	if matches, ok := value.(bool); ok && !req.Derived {
		resp.Matches = &matches
	} else {
		resp.Attribute = value
	}
	return resp
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		if len(in.Bytes()) == 0 {
			continue
		}
		if err := enc.Encode(handle(in.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, "celoracle:", err)
			os.Exit(1)
		}
		// one answer per line, at once: the Python client waits for it
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "celoracle:", err)
		os.Exit(1)
	}
}
