"""Operations tooling: the benchmark and the load test. The service never imports this package."""
