"""Small HTML pieces the pages place with `st.markdown(..., unsafe_allow_html=True)`."""

from __future__ import annotations

from decimal import Decimal
from html import escape

GREEN = "#22c55e"
RED = "#ef4444"
YELLOW = "#eab308"

_PULSE = (
    "<style>@keyframes live-pulse{0%{box-shadow:0 0 0 0 rgba(34,197,94,.7)}"
    "70%{box-shadow:0 0 0 10px rgba(34,197,94,0)}100%{box-shadow:0 0 0 0 rgba(34,197,94,0)}}</style>"
)


def connection_indicator(live: bool, text: str) -> str:
    """A dot, green and pulsing when live, red when not, and what it means."""
    color = GREEN if live else RED
    animation = "animation:live-pulse 1.6s infinite;" if live else ""
    state = "live" if live else "down"
    return (
        f'{_PULSE}<div class="connection" data-state="{state}" style="display:flex;align-items:center;gap:.5rem">'
        f'<span style="width:12px;height:12px;border-radius:50%;background:{color};{animation}"></span>'
        f"<span>{escape(text)}</span></div>"
    )


def status_card(label: str, value: str, color: str) -> str:
    """A count in the colour of its state (pending yellow, completed green, failed red)."""
    return (
        f'<div class="status-card" data-label="{escape(label)}" style="border-left:4px solid {color};'
        f'padding:.4rem .8rem;border-radius:.4rem;background:rgba(127,127,127,.08)">'
        f'<div style="font-size:.85rem;color:{color};font-weight:600">{escape(label)}</div>'
        f'<div style="font-size:1.8rem;font-weight:600">{escape(value)}</div></div>'
    )


GREY = "#94a3b8"


def pace_line(label: str, today: Decimal | int, earlier: Decimal | int | None, shown_earlier: str) -> str:
    """`vs yesterday at this time: ▲ +12.5% (was $4,100.00)`: green when today is ahead, red when
    behind, grey when level or when the sidecar sent no pace (an older sidecar)."""
    if earlier is None:
        return f'<div class="pace" data-direction="none" style="color:{GREY}">{escape(label)}: n/a</div>'
    change = Decimal(today) - Decimal(earlier)
    direction = "up" if change > 0 else "down" if change < 0 else "level"
    color = {"up": GREEN, "down": RED, "level": GREY}[direction]
    arrow = {"up": "▲", "down": "▼", "level": "="}[direction]
    # Without an earlier figure there is nothing to divide by: a rise from nothing, or nothing both times.
    amount = f"{change * 100 / Decimal(earlier):+.1f}%" if earlier else "new" if change else "±0"
    return (
        f'<div class="pace" data-direction="{direction}" style="color:{color};font-size:.85rem">'
        f"{escape(label)}: {arrow} {escape(amount)} (was {escape(shown_earlier)})</div>"
    )
