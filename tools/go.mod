module github.com/k6-concurrency/xk6-concurrency/tools

go 1.26.8

require go.k6.io/xk6 v0.13.0

require github.com/Masterminds/semver/v3 v3.1.1 // indirect
