"""Measuring a run: what `perfkit bench`, `curve --cpu-side`, `profile`, `bench --tune`,
`bench --engine` and `gpu-results` do, and what the notebooks call.

- `bench`: the reference workload played by a strategy, stored as a run;
- `engine`: the same for a search perfkit did not write (`bench --engine FILE.py:factory`);
- `tune`: the crossgame settings that give the most boards/s here;
- `profile`: where a strategy's time goes (line_profiler and pyinstrument);
- `ceiling`: the boards/s the CPU side sustains when the network is free;
- `gpu_results`: every GPU figure from one command, in a folder ready to commit.
"""
