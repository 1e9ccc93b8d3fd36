module github.com/pointsav/plinth

go 1.26.8

require (
	github.com/klauspost/compress v1.20.4
	github.com/u-root/u-root v0.16.0
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/pierrec/lz4/v4 v4.1.22 // indirect
	github.com/u-root/uio v0.0.0-20240224005618-d2acac8f3701 // indirect
	golang.org/x/exp v0.0.0-20250305212735-054e65f0b394 // indirect
)
