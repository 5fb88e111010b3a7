module zpoline-test-cgo

go 1.19
