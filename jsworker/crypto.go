package jsworker

import (
	"crypto/hmac"
	"crypto/md5"  // #nosec G501 -- k6/crypto offers md5, as k6's does
	"crypto/rand" // the web platform's crypto.getRandomValues: cryptographically strong
	"crypto/sha1" // #nosec G505 -- k6/crypto offers sha1, as k6's does
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/google/uuid"
	"github.com/grafana/sobek"
	"go.k6.io/k6/v2/js/common"

	// #nosec G506 -- k6/crypto offers md4, as k6's does
	"golang.org/x/crypto/md4" //nolint:staticcheck // deprecated; k6/crypto offers it
	// #nosec G507 -- k6/crypto offers ripemd160, as k6's does
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // deprecated; k6/crypto offers it
)

// k6/crypto and the crypto global in a worker runtime. k6's own are
// internal to k6 (internal/js/modules/k6/crypto and .../webcrypto), so a
// worker cannot use them; these offer the same API over Go's hashes,
// following k6's documentation: the hash functions, createHash, hmac,
// createHMAC, randomBytes and hexEncode of k6/crypto, and the
// getRandomValues and randomUUID of the Web Crypto API's crypto global. Not
// offered: crypto.subtle (the Web Crypto API's SubtleCrypto: keys, ciphers,
// signatures), which throws when touched, naming itself, and k6/crypto/x509,
// which fails at load as any k6 module that is not offered.

// cryptoGlobal holds the Go side of k6/crypto in a worker runtime.
const cryptoGlobal = "__xk6concurrency_k6_crypto"

// hashNames are k6/crypto's algorithms, each a function of the module.
func hashNames() []string {
	return []string{"md4", "md5", "sha1", "sha256", "sha384", "sha512", "sha512_224", "sha512_256", "ripemd160"}
}

// newHash returns the hash of one of k6/crypto's algorithms, or nil.
func newHash(algorithm string) func() hash.Hash {
	return map[string]func() hash.Hash{
		"md4": md4.New, "md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha384": sha512.New384,
		"sha512": sha512.New, "sha512_224": sha512.New512_224, "sha512_256": sha512.New512_256, "ripemd160": ripemd160.New,
	}[algorithm]
}

// cryptoSource is k6/crypto's JavaScript side: every function of k6's module.
func cryptoSource() string {
	var b strings.Builder
	b.WriteString("const c = globalThis." + cryptoGlobal + ";\n")
	names := append(make([]string, 0, 5+len(hashNames())), "createHash", "createHMAC", "hmac", "randomBytes", "hexEncode")
	b.WriteString("export function createHash(algorithm) { return c.createHash(algorithm); }\n")
	b.WriteString("export function createHMAC(algorithm, key) { return c.createHMAC(algorithm, key); }\n")
	b.WriteString("export function hmac(algorithm, key, input, outputEncoding) " +
		"{ return c.hmac(algorithm, key, input, outputEncoding); }\n")
	b.WriteString("export function randomBytes(size) { return c.randomBytes(size); }\n")
	b.WriteString("export function hexEncode(data) { return c.hexEncode(data); }\n")
	for _, h := range hashNames() {
		fmt.Fprintf(&b, "export function %s(input, outputEncoding) { return c.digest(%q, input, outputEncoding); }\n", h, h)
		names = append(names, h)
	}
	b.WriteString("export default { " + strings.Join(names, ", ") + " };\n")
	return b.String()
}

// hasher is what createHash and createHMAC return: update(input), then
// digest(outputEncoding).
type hasher struct {
	rt   *sobek.Runtime
	hash hash.Hash
}

// Update adds input (a string, an ArrayBuffer or a typed array) to the hash.
func (h *hasher) Update(input any) {
	_, _ = h.hash.Write(bytesOf(h.rt, input)) // a hash.Hash never fails to write
}

// Digest is the hash in an encoding: hex, base64, base64url, base64rawurl,
// or binary (an ArrayBuffer).
func (h *hasher) Digest(outputEncoding string) sobek.Value {
	sum := h.hash.Sum(nil)
	switch outputEncoding {
	case "hex":
		return h.rt.ToValue(hex.EncodeToString(sum))
	case "base64":
		return h.rt.ToValue(base64.StdEncoding.EncodeToString(sum))
	case "base64url":
		return h.rt.ToValue(base64.URLEncoding.EncodeToString(sum))
	case "base64rawurl":
		return h.rt.ToValue(base64.RawURLEncoding.EncodeToString(sum))
	case "binary":
		return h.rt.ToValue(h.rt.NewArrayBuffer(sum))
	}
	panic(h.rt.NewTypeError("invalid output encoding: %q (hex, base64, base64url, base64rawurl or binary)",
		outputEncoding))
}

// bytesOf is common.ToBytes; it throws a TypeError on what is not bytes.
func bytesOf(rt *sobek.Runtime, v any) []byte {
	b, err := common.ToBytes(v)
	if err != nil {
		panic(rt.NewTypeError(err.Error()))
	}
	return b
}

// defineCrypto defines k6/crypto's Go side, hidden from enumeration, and
// the crypto global.
func defineCrypto(rt *sobek.Runtime) error {
	newHasher := func(algorithm string) *hasher {
		h := newHash(algorithm)
		if h == nil {
			panic(rt.NewTypeError("invalid algorithm: %q (%s)", algorithm, strings.Join(hashNames(), ", ")))
		}
		return &hasher{rt: rt, hash: h()}
	}
	newHMAC := func(algorithm string, key any) *hasher {
		h := newHasher(algorithm)
		h.hash = hmac.New(newHash(algorithm), bytesOf(rt, key))
		return h
	}
	c := rt.NewObject()
	for name, fn := range map[string]any{
		"createHash": newHasher,
		"createHMAC": newHMAC,
		"hmac": func(algorithm string, key, input any, outputEncoding string) sobek.Value {
			h := newHMAC(algorithm, key)
			h.Update(input)
			return h.Digest(outputEncoding)
		},
		"digest": func(algorithm string, input any, outputEncoding string) sobek.Value {
			h := newHasher(algorithm)
			h.Update(input)
			return h.Digest(outputEncoding)
		},
		"randomBytes": func(size int) sobek.Value {
			if size < 1 {
				panic(rt.NewTypeError("randomBytes: invalid size %d", size))
			}
			b := make([]byte, size)
			_, _ = rand.Read(b) // never fails (crypto/rand)
			return rt.ToValue(rt.NewArrayBuffer(b))
		},
		"hexEncode": func(data any) string { return hex.EncodeToString(bytesOf(rt, data)) },
	} {
		if err := c.Set(name, fn); err != nil {
			return err
		}
	}
	if err := hide(rt, cryptoGlobal, c); err != nil {
		return err
	}
	return rt.Set("crypto", webCrypto(rt))
}

// maxRandomValues is getRandomValues's limit, the Web Crypto API's.
const maxRandomValues = 65536

// webCrypto is the crypto global: getRandomValues and randomUUID; subtle
// throws, naming itself.
func webCrypto(rt *sobek.Runtime) *sobek.Object {
	o := rt.NewObject()
	_ = o.Set("getRandomValues", func(call sobek.FunctionCall) sobek.Value {
		arr := call.Argument(0)
		obj, ok := arr.(*sobek.Object)
		kind := ""
		if ok {
			if ctor, isObj := obj.Get("constructor").(*sobek.Object); isObj {
				kind = ctor.Get("name").String()
			}
		}
		switch kind {
		case "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array",
			"BigInt64Array", "BigUint64Array":
		default:
			panic(rt.NewTypeError("crypto.getRandomValues: the argument must be an integer typed array, got %s", arr))
		}
		buf, ok := obj.Get("buffer").Export().(sobek.ArrayBuffer)
		if !ok {
			panic(rt.NewTypeError("crypto.getRandomValues: the typed array has no buffer"))
		}
		off, n := obj.Get("byteOffset").ToInteger(), obj.Get("byteLength").ToInteger()
		if n > maxRandomValues {
			panic(rt.NewTypeError("crypto.getRandomValues: %d bytes asked for, over the limit of %d (QuotaExceededError)",
				n, maxRandomValues))
		}
		_, _ = rand.Read(buf.Bytes()[off : off+n]) // never fails (crypto/rand)
		return arr
	})
	_ = o.Set("randomUUID", uuid.NewString) // version 4: random
	_ = o.DefineAccessorProperty("subtle", rt.ToValue(func(sobek.FunctionCall) sobek.Value {
		e, err := rt.New(rt.Get("Error"), rt.ToValue("crypto.subtle is not available in a pool worker: "+
			"k6's Web Crypto API is internal to k6; a worker offers crypto.getRandomValues, crypto.randomUUID and k6/crypto"))
		if err != nil {
			panic(err)
		}
		panic(e)
	}), nil, sobek.FLAG_FALSE, sobek.FLAG_TRUE)
	return o
}
