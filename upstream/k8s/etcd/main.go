// Command etcd runs upstream etcd's own entry point, unchanged: the real-cluster tests need
// a real etcd under kube-apiserver, and go.etcd.io/etcd/server/v3 is how the module proxy serves it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
