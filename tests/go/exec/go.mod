module zpoline-test-exec

go 1.19
