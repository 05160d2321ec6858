// kstatus prints what sigs.k8s.io/cli-utils/pkg/kstatus/status (the library behind
// `kubectl`-style waits in Flux, kpt and cli-utils' apply) computes for Kubernetes objects.
//
//	kstatus FILE.json...
//
// Each file holds one object as JSON (what `kubectl get -o json` prints). For each it prints
// one line: FILE<TAB>STATUS<TAB>MESSAGE, STATUS being kstatus's InProgress, Failed, Current,
// Terminating, NotFound or Unknown. Used by tests/packaging/kstatus.sh.
package main

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kstatus FILE.json...")
		os.Exit(2)
	}
	rc := 0
	for _, path := range os.Args[1:] {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			rc = 2
			continue
		}
		// apimachinery's decoder, as clients read objects from the API server (integers
		// stay int64, which kstatus's accessors require).
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			fmt.Fprintf(os.Stderr, "%s: not a Kubernetes object: %v\n", path, err)
			rc = 2
			continue
		}
		result, err := status.Compute(obj)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: kstatus: %v\n", path, err)
			rc = 2
			continue
		}
		fmt.Printf("%s\t%s\t%s\n", path, result.Status, result.Message)
	}
	os.Exit(rc)
}
