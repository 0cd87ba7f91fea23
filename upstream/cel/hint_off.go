//go:build !errorhint

// Before 1.37 the allocator reports CEL runtime errors as cel-go returns them, and there are
// no derived attributes.

package main

import (
	"errors"

	"github.com/google/cel-go/cel"
	dracel "k8s.io/dynamic-resource-allocation/cel"
)

func enhance(err error) error { return err }

func derivedOptions(opts *dracel.Options) bool { return false }

func evalDerived(result dracel.CompilationResult, d dracel.Device) (any, *cel.EvalDetails, error) {
	return nil, nil, errors.New("derived attributes need Kubernetes 1.37")
}
