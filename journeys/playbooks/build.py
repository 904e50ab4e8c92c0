"""Writes the playbook files (journeys/playbooks/*.json) from the definitions in build_winback.py and
build_hygiene.py (made of the parts in build_parts.py).

The JSON files are what Winback reads (adding a playbook is adding a file, in the journey file format
of journeys/services/transfer.py plus a "playbook" block for the gallery). This module is only the
convenient way to author the five shipped ones with the shared email layout; run it after changing
them or the layout:  python -m journeys.playbooks.build   (with DJANGO_SETTINGS_MODULE set).
"""

from __future__ import annotations

import json

from journeys.playbooks.build_hygiene import base_cleanup, clv_inactive
from journeys.playbooks.build_parts import HERE
from journeys.playbooks.build_winback import at_risk_multichannel, defecting_advocates, low_clv_coupon

PLAYBOOKS = {
    "01-defecting-advocates": defecting_advocates,
    "02-low-clv-coupon": low_clv_coupon,
    "03-at-risk-multichannel": at_risk_multichannel,
    "04-base-clean-up": base_cleanup,
    "05-clv-inactive-re-engagement": clv_inactive,
}


def main() -> None:
    for filename, build in PLAYBOOKS.items():
        path = HERE / f"{filename}.json"
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    import django

    django.setup()
    main()
