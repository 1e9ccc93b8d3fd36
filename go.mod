module github.com/pointsav/plinth

go 1.26.8

require go.yaml.in/yaml/v3 v3.0.6

require github.com/klauspost/compress v1.20.4 // indirect
