//go:build errorhint

// 1.37 and newer: the allocator passes CEL runtime errors through cel.EnhanceRuntimeError,
// and derived attributes (DRADerivedAttributes) exist.

package main

import (
	"context"

	"github.com/google/cel-go/cel"
	dracel "k8s.io/dynamic-resource-allocation/cel"
)

func enhance(err error) error { return dracel.EnhanceRuntimeError(err) }

// derivedOptions compiles as a derived attribute (what GetOrCompileDerivedAttribute and API
// validation do); false where the minor has none.
func derivedOptions(opts *dracel.Options) bool {
	opts.DerivedAttribute = true
	return true
}

func evalDerived(result dracel.CompilationResult, d dracel.Device) (any, *cel.EvalDetails, error) {
	attr, details, err := result.EvaluateDerivedAttribute(context.Background(), d)
	if attr == nil {
		return nil, details, err
	}
	return attr, details, err
}
