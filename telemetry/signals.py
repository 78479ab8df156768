"""What other apps may listen to: new minute rollups for these `labels` in [`start`,
`end`), sent once the transaction that wrote them has committed."""

from django.dispatch import Signal

energy_rolled_up = Signal()
