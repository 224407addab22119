"""Brazilian Portuguese vocabulary of the schedule grammar.

Words are written in normalized form (no accents: ``as`` is ``às``, ``terca`` is ``terça``);
``DISPLAY`` puts the accents back when a suggestion is shown to a person.
"""

from __future__ import annotations

_FEIRA = ("", "s", "-feira", "-feiras", " feira", " feiras", "s-feiras", "s feiras")

DAYS: dict[str, int] = {
    **{f"segunda{suffix}": 1 for suffix in _FEIRA},
    **{f"terca{suffix}": 2 for suffix in _FEIRA},
    **{f"quarta{suffix}": 3 for suffix in _FEIRA},
    **{f"quinta{suffix}": 4 for suffix in _FEIRA},
    **{f"sexta{suffix}": 5 for suffix in _FEIRA},
    "seg": 1, "ter": 2, "qua": 3, "qui": 4, "sex": 5,
    "sabado": 6, "sabados": 6, "sab": 6, "domingo": 0, "domingos": 0, "dom": 0,
}  # fmt: skip
"""Weekday names with and without ``-feira``, plurals and abbreviations; Sunday is 0."""

MONTHS: dict[str, int] = {
    "janeiro": 1, "jan": 1, "fevereiro": 2, "fev": 2, "marco": 3, "mar": 3, "abril": 4, "abr": 4,
    "maio": 5, "mai": 5, "junho": 6, "jun": 6, "julho": 7, "jul": 7, "agosto": 8, "ago": 8,
    "setembro": 9, "set": 9, "outubro": 10, "out": 10, "novembro": 11, "nov": 11, "dezembro": 12,
}  # fmt: skip
"""Month names. ``dez`` is left out on purpose: it is also the number ten."""

UNITS: dict[str, str] = {
    "segundo": "second", "segundos": "second", "seg": "second", "segs": "second", "s": "second",
    "min": "minute", "mins": "minute", "m": "minute", "h": "hour", "d": "day",
    "minuto": "minute", "minutos": "minute", "hora": "hour", "horas": "hour", "hs": "hour",
    "dia": "day", "dias": "day", "semana": "week", "semanas": "week",
    "mes": "month", "meses": "month", "ano": "year", "anos": "year",
}  # fmt: skip

NUMBERS: dict[str, int] = {
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "quinze": 15,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50,
}  # fmt: skip

ORDINALS: dict[str, int] = {
    "primeira": 1, "primeiro": 1, "1a": 1, "1o": 1, "segunda": 2, "segundo": 2, "2a": 2, "2o": 2,
    "terceira": 3, "terceiro": 3, "3a": 3, "3o": 3, "quarta": 4, "quarto": 4, "4a": 4, "4o": 4,
    "quinta": 5, "quinto": 5, "5a": 5, "5o": 5,
}  # fmt: skip

PERIODS: dict[str, str] = {
    "da manha": "am", "de manha": "am", "pela manha": "am", "da madrugada": "am", "de madrugada": "am",
    "da tarde": "pm", "de tarde": "pm", "a tarde": "pm", "pela tarde": "pm",
    "da noite": "night", "de noite": "night", "a noite": "night",
}  # fmt: skip
"""``8 da manhã``, ``3 da tarde``, ``8 da noite``."""

NAMED_TIMES: dict[str, int] = {"meio dia": 12, "meio-dia": 12, "meia noite": 0, "meia-noite": 0}

AT = ("as", "a", "ao", "aos", "pelas", "pela", "por volta das", "por volta da", "por volta de")
EVERY = ("a cada", "cada", "todo", "toda", "todos os", "todas as")
DAILY = ("diariamente", "todo dia", "todos os dias", "todo santo dia", "cada dia", "a cada dia", "por dia")
DAILY_AM = ("toda manha", "todas as manhas")
DAILY_PM = ("toda tarde", "todas as tardes", "toda noite", "todas as noites")
HOURLY = ("de hora em hora", "a cada hora", "toda hora", "todas as horas")
WEEKLY = ("semanalmente", "toda semana", "todas as semanas")
MONTHLY = (
    "mensalmente",
    "todo mes",
    "todos os meses",
    "a cada mes",
    "de cada mes",
    "de todo mes",
    "do mes",
    "por mes",
)
YEARLY = ("anualmente", "todo ano", "todos os anos", "a cada ano")
WEEKDAYS = ("dias uteis", "dia util", "dias de semana", "dias da semana", "durante a semana")
WEEKENDS = ("fins de semana", "fim de semana", "finais de semana", "final de semana")
DAY_PREFIX = (
    "toda",
    "todo",
    "todas as",
    "todos os",
    "as",
    "aos",
    "nas",
    "nos",
    "na",
    "no",
    "em",
    "de",
    "so",
    "somente",
    "apenas",
)
RANGE_SEP = ("a", "ate")
LIST_SEP = ("e", ",", "&", "/", ", e", "ou")
WINDOW_START = ("das", "entre", "de", "do", "desde as")
WINDOW_SEP = ("as", "e", "a", "ate", "ate as")
RELATIVE_PREFIX = ("em", "daqui a", "daqui", "dentro de", "apos", "depois de", "em cerca de")
RELATIVE_SUFFIX = ("a partir de agora", "depois")
DAY_OFFSETS: dict[str, int] = {"hoje": 0, "amanha": 1, "depois de amanha": 2}
NEXT = ("proxima", "proximo", "na proxima", "no proximo", "nesta", "neste", "esta", "este")
NOW = ("agora", "agora mesmo", "imediatamente", "ja")
DATE_PREFIX = ("em", "dia", "no dia", "para", "para o dia", "no")
DOM_PREFIX = (
    "todo dia",
    "todos os dias",
    "no dia",
    "nos dias",
    "dia",
    "dias",
    "em",
    "todo mes no dia",
    "todo mes nos dias",
    "mensalmente no dia",
    "mensalmente nos dias",
    "todo",
)
LAST_DAY = ("ultimo dia", "o ultimo dia", "todo ultimo dia", "no ultimo dia")
HALF_HOUR = ("meia hora", "meia-hora")
MINUTE_OFFSET = ("no minuto", "ao minuto", "minuto")
PAST_HOUR = ("minutos",)

DISPLAY: dict[str, str] = {
    "as": "às", "terca": "terça", "sabado": "sábado", "sabados": "sábados", "amanha": "amanhã",
    "uteis": "úteis", "util": "útil", "mes": "mês", "ate": "até", "apos": "após", "ultimo": "último",
    "manha": "manhã", "marco": "março", "proxima": "próxima", "proximo": "próximo",
}  # fmt: skip
"""Normalized words and how they are spelled, used when a suggestion is shown."""

EXAMPLES = (
    "em 10 minutos",
    "daqui a 2 horas",
    "amanhã às 9h",
    "hoje às 18:30",
    "em 24/12 às 20h",
    "a cada 5 minutos",
    "de hora em hora",
    "a cada 2 horas",
    "todo dia às 08:00",
    "todos os dias às 7h30",
    "toda segunda às 9h",
    "dias úteis às 18h",
    "fins de semana às 10h",
    "segunda, quarta e sexta às 9h",
    "todo dia 1 às 10h",
    "todo mês no dia 15",
    "a cada 15 minutos das 8h às 18h em dias úteis",
)
"""Canonical phrasings: the nearest one is offered when nothing closer can be found."""
