"""What other apps may listen to:

- `energy_rolled_up`: new minute rollups for these `labels` in [`start`, `end`), sent once
  the transaction that wrote them has committed;
- `tokens_counted`: an inference server's counters (vLLM's) rose by `input_tokens`,
  `output_tokens` and `requests` for `label` over [`start`, `end`), sent inside the
  transaction that recorded the counters, so a listener's record commits with them."""

from django.dispatch import Signal

energy_rolled_up = Signal()
tokens_counted = Signal()
