"""Alias data: the names, nicknames and codes venues use for the same real-world thing.

Kept as plain data so that adding a team or an organisation is a one-line change. Each entity id is
``"<kind>:<code>"``; the kind scopes codes that collide across leagues (``nba:chi`` the Bulls vs
``nfl:chi`` the Bears). Alias strings are matched on folded tokens (see ``normalize.fold``):

* ``names``: multi-word or distinctive names, matched anywhere;
* ``proper``: single common-looking words (team nicknames, city names) matched only when written
  with a capital letter, so "heat wave" never becomes the Miami Heat;
* ``codes``: venue abbreviations, matched in text only when written in capitals ("LAL") and always in
  structured places (Kalshi tickers, Polymarket slugs).
"""

from __future__ import annotations

# (code, names, proper single words, extra codes); city forms as Kalshi writes them ("Los Angeles L").
NBA_TEAMS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("atl", ("atlanta hawks",), ("Atlanta", "Hawks"), ()),
    ("bos", ("boston celtics",), ("Boston", "Celtics"), ()),
    ("bkn", ("brooklyn nets",), ("Brooklyn", "Nets"), ("brk", "bkn")),
    ("cha", ("charlotte hornets",), ("Charlotte", "Hornets"), ("cho",)),
    ("chi", ("chicago bulls",), ("Chicago", "Bulls"), ()),
    ("cle", ("cleveland cavaliers",), ("Cleveland", "Cavaliers", "Cavs"), ()),
    ("dal", ("dallas mavericks",), ("Dallas", "Mavericks", "Mavs"), ()),
    ("den", ("denver nuggets",), ("Denver", "Nuggets"), ()),
    ("det", ("detroit pistons",), ("Detroit", "Pistons"), ()),
    ("gsw", ("golden state warriors", "golden state"), ("Warriors",), ("gs",)),
    ("hou", ("houston rockets",), ("Houston", "Rockets"), ()),
    ("ind", ("indiana pacers",), ("Indiana", "Pacers"), ()),
    ("lac", ("los angeles clippers", "la clippers", "los angeles c"), ("Clippers",), ()),
    ("lal", ("los angeles lakers", "la lakers", "los angeles l"), ("Lakers",), ()),
    ("mem", ("memphis grizzlies",), ("Memphis", "Grizzlies"), ()),
    ("mia", ("miami heat",), ("Miami", "Heat"), ()),
    ("mil", ("milwaukee bucks",), ("Milwaukee", "Bucks"), ()),
    ("min", ("minnesota timberwolves",), ("Minnesota", "Timberwolves", "Wolves"), ()),
    ("nop", ("new orleans pelicans", "new orleans"), ("Pelicans",), ("no", "nor")),
    ("nyk", ("new york knicks", "new york"), ("Knicks",), ("ny",)),
    ("okc", ("oklahoma city thunder", "oklahoma city"), ("Thunder",), ()),
    ("orl", ("orlando magic",), ("Orlando", "Magic"), ()),
    ("phi", ("philadelphia 76ers", "76ers"), ("Philadelphia", "Sixers"), ()),
    ("phx", ("phoenix suns",), ("Phoenix", "Suns"), ("pho",)),
    ("por", ("portland trail blazers", "trail blazers"), ("Portland", "Blazers"), ()),
    ("sac", ("sacramento kings",), ("Sacramento", "Kings"), ()),
    ("sas", ("san antonio spurs", "san antonio"), ("Spurs",), ("sa",)),
    ("tor", ("toronto raptors",), ("Toronto", "Raptors"), ()),
    ("uta", ("utah jazz",), ("Utah", "Jazz"), ("utah",)),
    ("was", ("washington wizards",), ("Washington", "Wizards"), ("wsh",)),
)

NFL_TEAMS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("ari", ("arizona cardinals",), ("Cardinals", "Arizona"), ()),
    ("atl", ("atlanta falcons",), ("Falcons", "Atlanta"), ()),
    ("bal", ("baltimore ravens",), ("Ravens", "Baltimore"), ()),
    ("buf", ("buffalo bills",), ("Bills", "Buffalo"), ()),
    ("car", ("carolina panthers",), ("Panthers", "Carolina"), ()),
    ("chi", ("chicago bears",), ("Bears", "Chicago"), ()),
    ("cin", ("cincinnati bengals",), ("Bengals", "Cincinnati"), ()),
    ("cle", ("cleveland browns",), ("Browns", "Cleveland"), ()),
    ("dal", ("dallas cowboys",), ("Cowboys", "Dallas"), ()),
    ("den", ("denver broncos",), ("Broncos", "Denver"), ()),
    ("det", ("detroit lions",), ("Lions", "Detroit"), ()),
    ("gb", ("green bay packers", "green bay"), ("Packers",), ()),
    ("hou", ("houston texans",), ("Texans", "Houston"), ()),
    ("ind", ("indianapolis colts",), ("Colts", "Indianapolis"), ()),
    ("jax", ("jacksonville jaguars",), ("Jaguars", "Jacksonville"), ("jac",)),
    ("kc", ("kansas city chiefs", "kansas city"), ("Chiefs",), ()),
    ("lv", ("las vegas raiders", "las vegas"), ("Raiders",), ()),
    ("lac", ("los angeles chargers", "la chargers", "los angeles c"), ("Chargers",), ()),
    ("lar", ("los angeles rams", "la rams", "los angeles r"), ("Rams",), ("la",)),
    ("mia", ("miami dolphins",), ("Dolphins", "Miami"), ()),
    ("min", ("minnesota vikings",), ("Vikings", "Minnesota"), ()),
    ("ne", ("new england patriots", "new england"), ("Patriots",), ()),
    ("no", ("new orleans saints", "new orleans"), ("Saints",), ()),
    ("nyg", ("new york giants", "new york g"), ("Giants",), ()),
    ("nyj", ("new york jets", "new york j"), ("Jets",), ()),
    ("phi", ("philadelphia eagles",), ("Eagles", "Philadelphia"), ()),
    ("pit", ("pittsburgh steelers",), ("Steelers", "Pittsburgh"), ()),
    ("sf", ("san francisco 49ers", "49ers", "san francisco"), (), ()),
    ("sea", ("seattle seahawks",), ("Seahawks", "Seattle"), ()),
    ("tb", ("tampa bay buccaneers", "tampa bay"), ("Buccaneers", "Bucs"), ()),
    ("ten", ("tennessee titans",), ("Titans", "Tennessee"), ()),
    ("was", ("washington commanders",), ("Commanders", "Washington"), ()),
)

CFB_TEAMS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("ore", ("oregon ducks",), ("Oregon", "Ducks"), ()),
    ("ind", ("indiana hoosiers",), ("Indiana", "Hoosiers"), ()),
    ("osu", ("ohio state", "ohio state buckeyes"), ("Buckeyes",), ()),
    ("uga", ("georgia bulldogs",), (), ()),
    ("mia", ("miami hurricanes",), ("Hurricanes",), ()),
)

# Leagues whose games can end level; "A wins" and "B wins" are then not complements.
DRAW_LEAGUES = frozenset({"soccer", "nfl"})

# Words that give the league of a market when it appears in text, a Kalshi series or a slug prefix.
LEAGUE_HINTS: dict[str, str] = {
    "nba": "nba", "pro basketball": "nba", "basketball": "nba",
    "nfl": "nfl", "pro football": "nfl",
    "ncaaf": "cfb", "cfb": "cfb", "cfp": "cfb", "college football": "cfb",
    "fifa": "soccer", "world cup": "soccer", "premier league": "soccer", "champions league": "soccer",
    "mls": "soccer", "soccer": "soccer",
}

# Non-team entities: id → aliases. Single-word aliases listed in PROPER need a capital letter.
ENTITIES: dict[str, tuple[str, ...]] = {
    # organisations and people
    "org:fed": ("fed", "federal reserve", "fomc", "federal open market committee", "the fed"),
    "org:ecb": ("ecb", "european central bank"),
    "org:boe": ("boe", "bank of england"),
    "org:boj": ("boj", "bank of japan"),
    "org:sec": ("sec", "securities and exchange commission"),
    "org:openai": ("openai", "open ai"),
    "org:nws": ("nws", "national weather service"),
    "person:trump": ("trump", "donald trump", "donald j trump", "president trump"),
    "person:biden": ("biden", "joe biden"),
    "person:vance": ("jd vance", "j d vance", "vance"),
    "person:newsom": ("newsom", "gavin newsom"),
    "person:harris": ("kamala harris", "kamala"),
    "person:musk": ("elon musk", "musk"),
    "person:powell": ("jerome powell", "jay powell", "powell"),
    # assets and indices
    "crypto:btc": ("btc", "bitcoin", "xbt"),
    "crypto:eth": ("eth", "ethereum", "ether"),
    "crypto:sol": ("sol", "solana"),
    "crypto:xrp": ("xrp", "ripple"),
    "crypto:doge": ("doge", "dogecoin"),
    "idx:spx": ("s p 500", "sp500", "spx", "s p", "inx"),
    "idx:ndx": ("nasdaq 100", "nasdaq", "ndx"),
    "idx:dji": ("dow jones", "djia", "dow"),
    "cmd:wti": ("wti", "crude oil", "oil"),
    "cmd:gold": ("gold",),
    "econ:cpi": ("cpi", "consumer price index", "inflation"),
    "econ:gdp": ("gdp", "gross domestic product"),
    "econ:unemployment": ("unemployment", "unemployment rate", "jobless rate"),
    "econ:fed_rate": ("fed funds rate", "federal funds rate", "interest rate", "interest rates", "rates"),
    "place:nyc": ("nyc", "new york city", "central park"),
    # competitions (what is being won)
    "comp:nba_finals": ("nba finals", "pro basketball finals", "nba champion", "nba championship"),
    "comp:nba_wcf": (
        "western conference finals", "western conference championship", "western conference champion",
        "nba west",
    ),
    "comp:nba_ecf": (
        "eastern conference finals", "eastern conference championship", "eastern conference champion",
        "nba east",
    ),
    "comp:nba_wcf_mvp": ("western conference finals mvp", "western conference finals most valuable player"),
    "comp:nba_ecf_mvp": ("eastern conference finals mvp", "eastern conference finals most valuable player"),
    "comp:nba_mvp": ("nba mvp", "most valuable player"),
    "comp:fifa_wc": ("fifa world cup", "world cup", "mens world cup", "men s world cup"),
    "comp:stanley_cup": ("stanley cup", "nhl stanley cup", "stanley cup finals"),
    "comp:super_bowl": ("super bowl",),
    "comp:ipl": ("ipl", "indian premier league"),
    "comp:french_open": ("french open", "roland garros"),
    "comp:us_open": ("us open", "u s open"),
    "comp:wimbledon": ("wimbledon",),
    "comp:us_president": (
        "presidential election", "us presidential election", "president of the united states",
        "next presidential election", "us president",
    ),
    "comp:la_mayor": ("los angeles mayoral election", "la mayoral election", "los angeles mayoral"),
}

# Single words in ENTITIES that look like ordinary English and therefore need a capital letter.
PROPER: frozenset[str] = frozenset(
    {"fed", "dow", "gold", "oil", "rates", "inflation", "unemployment", "ether", "vance", "musk", "powell",
     "trump", "biden", "newsom", "kamala", "nasdaq", "ripple"}
)

# Countries (national teams, elections): id code → names.
COUNTRIES: dict[str, tuple[str, ...]] = {
    "us": ("usa", "united states", "united states of america", "u s a", "us", "u s"),
    "pt": ("portugal",), "fr": ("france",), "nl": ("netherlands", "holland"), "no": ("norway",),
    "ch": ("switzerland",), "de": ("germany",), "ci": ("ivory coast", "cote d ivoire", "cote divoire"),
    "hr": ("croatia",), "ec": ("ecuador",), "ma": ("morocco",), "sn": ("senegal",), "at": ("austria",),
    "mx": ("mexico",), "ar": ("argentina",), "se": ("sweden",), "co": ("colombia",), "uy": ("uruguay",),
    "eng": ("england",), "kr": ("south korea", "korea republic", "republic of korea"), "ir": ("iran",),
    "jp": ("japan",), "py": ("paraguay",), "be": ("belgium",),
    "ba": ("bosnia and herzegovina", "bosnia herzegovina", "bosnia"), "dz": ("algeria",),
    "br": ("brazil",), "ca": ("canada",), "es": ("spain",), "gh": ("ghana",), "tn": ("tunisia",),
    "cz": ("czechia", "czech republic"), "it": ("italy",), "au": ("australia",),
    "sa": ("saudi arabia",), "qa": ("qatar",), "eg": ("egypt",), "sco": ("scotland",), "wal": ("wales",),
    "ng": ("nigeria",), "cm": ("cameroon",), "pl": ("poland",), "dk": ("denmark",), "rs": ("serbia",),
    "tr": ("turkey", "turkiye"), "ua": ("ukraine",), "ru": ("russia",), "cn": ("china",), "in": ("india",),
    "il": ("israel",), "pa": ("panama",), "cr": ("costa rica",), "jm": ("jamaica",),
    "nz": ("new zealand",), "uz": ("uzbekistan",), "jo": ("jordan",), "cv": ("cape verde", "cabo verde"),
    "cw": ("curacao",), "ht": ("haiti",), "za": ("south africa",), "pe": ("peru",), "cl": ("chile",),
    "gb": ("united kingdom", "uk", "great britain", "britain"),
}

# Countries whose English name is also a common word or a person's name: need a capital letter.
PROPER_COUNTRIES: frozenset[str] = frozenset({"jordan", "chile", "turkey", "china", "us", "india"})
