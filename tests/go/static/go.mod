module zpoline.test/static

go 1.19
