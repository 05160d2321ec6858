// Command kube-apiserver is the esm-controller test bed's Kubernetes API
// server: the upstream kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver/app)
// running in-process next to an embedded etcd (go.etcd.io/etcd/server/v3/embed).
//
// Subcommands:
//
//	kube-apiserver gen-pki --dir DIR [--token TOKEN]
//	    Writes a self-signed CA, a serving certificate for 127.0.0.1/localhost,
//	    a service-account signing key pair and a static token file whose only
//	    user is "admin" in group system:masters.
//
//	kube-apiserver serve --data-dir DIR [--port-file FILE] [--etcd-log FILE] [--etcd-fsync] -- [kube-apiserver flags...]
//	    Starts embedded etcd on free loopback ports (unless --etcd-servers is
//	    among the kube-apiserver flags), then runs the upstream kube-apiserver
//	    command with the given flags plus --etcd-servers. If --secure-port is not
//	    given, a free loopback port is chosen. The secure port is written to
//	    --port-file once chosen.
//
//	kube-apiserver version
//	    Prints the k8s.io/kubernetes module version this binary was built from.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gen-pki":
		if err := genPKI(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "gen-pki: %v\n", err)
			os.Exit(1)
		}
	case "serve":
		os.Exit(serve(os.Args[2:]))
	case "version":
		fmt.Println(moduleVersion("k8s.io/kubernetes"))
	case "-h", "--help", "help":
		usage()
	default:
		usage()
		os.Exit(2)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  kube-apiserver gen-pki --dir DIR [--token TOKEN]
  kube-apiserver serve --data-dir DIR [--port-file FILE] [--etcd-log FILE] [--etcd-fsync] -- [kube-apiserver flags...]
  kube-apiserver version
`)
}

func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
}

// ---------------------------------------------------------------- serve

func serve(argv []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dataDir := fs.String("data-dir", "", "directory for embedded etcd data (required unless --etcd-servers is passed through)")
	portFile := fs.String("port-file", "", "write the apiserver secure port here")
	etcdLog := fs.String("etcd-log", "", "embedded etcd log file (default: stderr)")
	etcdFsync := fs.Bool("etcd-fsync", false, "fsync etcd writes (off by default: the test bed's data is throwaway)")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	apiArgs := fs.Args()

	hasFlag := func(name string) (string, bool) {
		for i, a := range apiArgs {
			if a == "--"+name && i+1 < len(apiArgs) {
				return apiArgs[i+1], true
			}
			if strings.HasPrefix(a, "--"+name+"=") {
				return strings.TrimPrefix(a, "--"+name+"="), true
			}
		}
		return "", false
	}

	securePort, ok := hasFlag("secure-port")
	if !ok {
		p, err := freePort()
		if err != nil {
			fmt.Fprintf(os.Stderr, "serve: choosing secure port: %v\n", err)
			return 1
		}
		securePort = strconv.Itoa(p)
		apiArgs = append(apiArgs, "--secure-port="+securePort)
	}
	if _, ok := hasFlag("bind-address"); !ok {
		apiArgs = append(apiArgs, "--bind-address=127.0.0.1")
	}

	infoOnly := false // --version / --help: no etcd needed
	for _, a := range apiArgs {
		if a == "-h" || a == "--help" || a == "--version" || strings.HasPrefix(a, "--version=") {
			infoOnly = true
		}
	}

	var etcd *embed.Etcd
	if _, ok := hasFlag("etcd-servers"); !ok && !infoOnly {
		if *dataDir == "" {
			fmt.Fprintln(os.Stderr, "serve: --data-dir is required for embedded etcd")
			return 2
		}
		e, clientURL, err := startEtcd(*dataDir, *etcdLog, *etcdFsync)
		if err != nil {
			fmt.Fprintf(os.Stderr, "serve: embedded etcd: %v\n", err)
			return 1
		}
		etcd = e
		fmt.Fprintf(os.Stderr, "embedded etcd ready at %s (data %s)\n", clientURL, *dataDir)
		apiArgs = append(apiArgs, "--etcd-servers="+clientURL)
		go func() {
			if err, ok := <-e.Err(); ok && err != nil {
				fmt.Fprintf(os.Stderr, "embedded etcd failed: %v\n", err)
				os.Exit(1)
			}
		}()
	}

	if *portFile != "" {
		if err := writeFileAtomic(*portFile, []byte(securePort+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "serve: writing port file: %v\n", err)
			return 1
		}
	}

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(apiArgs)
	code := cli.Run(cmd)
	if etcd != nil {
		etcd.Close()
	}
	return code
}

func startEtcd(dir, logFile string, fsync bool) (*embed.Etcd, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", clientPort))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))

	cfg := embed.NewConfig()
	cfg.Name = "testbed"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	cfg.UnsafeNoFsync = !fsync
	cfg.Logger = "zap"
	cfg.LogLevel = "error" // "warn" logs every request ("request stats")
	if logFile != "" {
		cfg.LogOutputs = []string{logFile}
	} else {
		cfg.LogOutputs = []string{"stderr"}
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, "", fmt.Errorf("not ready after 60s")
	}
	return e, cu.String(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ---------------------------------------------------------------- gen-pki

func genPKI(argv []string) error {
	fs := flag.NewFlagSet("gen-pki", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory (required)")
	token := fs.String("token", "", "admin bearer token (default: random)")
	user := fs.String("user", "admin", "admin user name in the token file")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(*dir, name) }

	now := time.Now()
	// CA
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "esm-testbed-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}

	// Serving certificate.
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.96.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}

	// Service-account signing key pair (RSA: RS256 is what every client expects).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}

	if *token == "" {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		*token = hex.EncodeToString(b)
	}

	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"ca.crt", pemBytes("CERTIFICATE", caDER), 0o644},
		{"ca.key", pemBytes("EC PRIVATE KEY", caKeyDER), 0o600},
		{"apiserver.crt", append(pemBytes("CERTIFICATE", srvDER), pemBytes("CERTIFICATE", caDER)...), 0o644},
		{"apiserver.key", pemBytes("EC PRIVATE KEY", srvKeyDER), 0o600},
		{"sa.key", pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)), 0o600},
		{"sa.pub", pemBytes("PUBLIC KEY", saPub), 0o644},
		{"admin.token", []byte(*token + "\n"), 0o600},
		{"tokens.csv", []byte(fmt.Sprintf("%s,%s,%s-uid,\"system:masters\"\n", *token, *user, *user)), 0o600},
	}
	for _, f := range files {
		if err := writeFileAtomic(p(f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
