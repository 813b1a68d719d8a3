"""Writes tokenizer_golden.json: captions and the ids open_clip gives them.

The Go tokenizer test (tokenizer_test.go) reads the JSON and must reproduce
every id; it never runs Python. Regenerate with open-clip-torch and torch
from PyPI in a virtualenv (DESIGN.md keeps it under ~/.cache/clipstream):

    python3 -m venv ~/.cache/clipstream/venv
    ~/.cache/clipstream/venv/bin/pip install torch open-clip-torch
    ~/.cache/clipstream/venv/bin/python make_golden.py > tokenizer_golden.json

Each record has
  text          the caption (absent when raw_b64 is set)
  raw_b64       the caption's raw bytes, for invalid UTF-8; Python tokenises
                raw.decode("utf-8", errors="replace"), the Go test the bytes
  kind          a label for the category of caption
  ids           open_clip's ids up to and including the last end token (the rest
                of the 77 are zeros), with ftfy.fix_text limited to the
                character-mapping fixes the Go port implements
  ids_open_clip present only where stock open_clip (full ftfy, including its
                mojibake repair and its own HTML unescaping) gives other ids;
                the Go test reports these as the documented ftfy difference
"""
import base64
import json
import random
import sys
import unicodedata

import ftfy
import open_clip
import regex
import torch

CONTEXT = 77

# ---------------------------------------------------------------- captions

SUBJECTS = [
    "a golden retriever", "two cats", "an old man", "a young woman", "a group of children", "a red bicycle",
    "the Eiffel Tower", "a bowl of ramen", "a vintage car", "a wooden table", "a mountain lake", "a city skyline",
    "a wedding cake", "a pair of running shoes", "a leather handbag", "a hummingbird", "a sailboat", "a lighthouse",
    "a plate of sushi", "a black and white photo of a street", "a modern kitchen", "a cup of coffee",
    "a stack of books", "a Christmas tree", "a soccer player", "a jazz band", "a snowy forest", "a desert road",
    "a bride and groom", "an abandoned factory", "a tabby kitten", "a steam locomotive", "a bowl of fruit",
    "a yoga class", "a pepperoni pizza", "the Golden Gate Bridge", "a herd of elephants", "a koi pond",
]
ACTIONS = [
    "sitting on", "running across", "standing next to", "lying on", "walking through", "looking at",
    "in front of", "under", "on top of", "near", "playing with", "jumping over", "reflected in",
]
PLACES = [
    "a sandy beach", "the kitchen counter", "a busy street in Tokyo", "a field of sunflowers", "the living room",
    "a snowy mountain", "an old stone bridge", "the office", "a farmers market", "the park at sunset",
    "a hospital corridor", "a crowded subway", "the garden", "a rainy window", "Central Park", "the harbour",
]
STYLES = [
    "", " at sunset", " in the rain", ", high resolution", ", stock photo", " - watercolor painting",
    ", 4k wallpaper", " (digital art)", ", shot on iPhone", ", illustration", " | Getty Images",
    ", close-up", ", aerial view", " in black and white", ", vector icon", ", isolated on white background",
]
PRODUCTS = [
    "Men's Slim Fit Cotton T-Shirt", "Women's Waterproof Hiking Boots", "Stainless Steel Water Bottle",
    "Wireless Bluetooth Headphones", "Ceramic Coffee Mug", "Kids' LEGO Classic Set", "Organic Green Tea",
    "Queen Size Memory Foam Mattress", "USB-C Charging Cable", "Handmade Silver Earrings",
    "Vintage Leather Wallet", "4-Pack AA Batteries", "Cast Iron Skillet", "Yoga Mat with Carry Strap",
]
COLOURS = ["Black", "Navy Blue", "Red", "Olive Green", "White", "Heather Grey", "Rose Gold", "Beige"]
SIZES = ["S", "M", "L", "XL", "XXL", "10 oz", "500ml", "12\"", "2-Pack", "Size 9.5"]
NEWS = [
    "President {n} speaks to reporters at the White House on {d}.",
    "Firefighters battle a blaze in {c}, {d}. (AP Photo/{n})",
    "Fans celebrate after the {t} won the championship, {d}.",
    "A view of the flooded streets of {c} after the storm on {d}.",
    "{n}, CEO of {t}, poses for a portrait in {c}.",
    "Protesters gather outside parliament in {c} on {d}. REUTERS/{n}",
]
NAMES = ["John Smith", "María García", "Li Wei", "Olga Ivanova", "Ahmed Hassan", "Yuki Tanaka", "O'Brien"]
CITIES = ["New York", "São Paulo", "München", "Kraków", "Zürich", "Reykjavík", "Montréal", "Istanbul", "Lagos"]
TEAMS = ["Lakers", "FC Barcelona", "Acme Corp.", "OpenAI", "Toyota", "the Yankees"]
DATES = ["Jan. 5, 2021", "March 3rd 2019", "2022-07-14", "12/25/2020", "Tuesday", "05.11.2018"]


def realistic(rng):
    """About 400 alt texts of the kinds crawled pages carry."""
    out = []
    for _ in range(160):
        s = f"{rng.choice(SUBJECTS)} {rng.choice(ACTIONS)} {rng.choice(PLACES)}{rng.choice(STYLES)}"
        if rng.random() < 0.3:
            s = s[0].upper() + s[1:]
        if rng.random() < 0.2:
            s = s.upper()
        out.append(("scene", s))
    for _ in range(80):
        s = f"{rng.choice(PRODUCTS)} - {rng.choice(COLOURS)}, {rng.choice(SIZES)}"
        if rng.random() < 0.5:
            s += f" | ${rng.randint(3, 300)}.{rng.randint(0, 99):02d}"
        if rng.random() < 0.3:
            s += f" (SKU #{rng.randint(10000, 99999)})"
        out.append(("product", s))
    for _ in range(60):
        s = rng.choice(NEWS).format(n=rng.choice(NAMES), d=rng.choice(DATES), c=rng.choice(CITIES),
                                    t=rng.choice(TEAMS))
        out.append(("news", s))
    for _ in range(40):
        kind = rng.randrange(6)
        if kind == 0:
            s = f"IMG_{rng.randint(1000, 9999)}.JPG"
        elif kind == 1:
            s = f"DSC{rng.randint(10000, 99999)}-edit-final-v{rng.randint(2, 9)}.jpeg"
        elif kind == 2:
            s = f"https://www.example.com/images/{rng.randint(1, 999)}/photo_{rng.randint(1, 99)}.png?w=640&h=480"
        elif kind == 3:
            s = f"logo-{rng.choice(TEAMS).lower().replace(' ', '-')}@2x"
        elif kind == 4:
            s = f"#travel #{rng.choice(CITIES).lower()} #photography @user_{rng.randint(1, 999)}"
        else:
            s = f"Screenshot 2023-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} at {rng.randint(1, 12)}.{rng.randint(10, 59)}.{rng.randint(10, 59)} PM"
        out.append(("filename", s))
    for _ in range(40):
        words = [rng.choice(["cheap", "best", "buy", "online", "free", "shipping", "sale", "2024", "new", "top",
                             "10", "deals", "discount", "wholesale", "outlet"]) for _ in range(rng.randint(5, 14))]
        out.append(("seo", " ".join(words)))
    for _ in range(20):
        s = (f"{rng.choice(SUBJECTS)} — it's {rng.choice(['beautiful', 'amazing', 'so cute', 'the best'])}! "
             f"We'll {rng.choice(['never', 'always'])} forget. I'm {rng.randint(2, 90)} and they're "
             f"{rng.choice(['happy', 'tired', 'LATE'])}; you'd've DON'T WON'T She'll I'D")
        out.append(("contractions", s))
    return out


SPECIAL = [
    # empty and whitespace
    ("empty", ""), ("whitespace", " "), ("whitespace", "\t\n  \r\n"), ("whitespace", "\u3000\u00a0\u2003"),
    ("whitespace", "  a   photo \t of\n\na dog  "), ("whitespace", "\x1c\x1d\x1e\x1fa\x1fb"),
    ("whitespace", "a\u2028b\u2029c\u0085d"), ("whitespace", "a\x0bb\x0cc"),
    # unicode scripts
    ("cjk", "一只可爱的小猫坐在窗台上"), ("cjk", "東京タワーの夜景、2023年撮影"), ("cjk", "서울의 밤거리 풍경"),
    ("cjk", "北京烤鸭 Peking duck 美味"), ("cjk", "ラーメン🍜とギョーザ"), ("cjk", "中文，标点。符号！"),
    ("script", "Кошка спит на диване"), ("script", "ΟΔΟΣ ΑΘΗΝΑΣ ΣΤΗΝ ΠΛΑΚΑ"), ("script", "ΣΙΣΥΦΟΣ Σ ΑΣ. ΑΣ'"),
    ("script", "قطة على الأريكة"), ("script", "חתול על הספה"), ("script", "बिल्ली सोफे पर सो रही है"),
    ("script", "แมวนอนบนโซฟา"), ("script", "İstanbul'da GÜZEL bir gün IĞDIR"), ("script", "Straße in München — GROSS ẞ"),
    ("script", "Ελληνικά: ΌΛΟΙ ΟΙ ΆΝΘΡΩΠΟΙ"), ("script", "ქართული ანბანი"), ("script", "Հայերեն"),
    ("script", "Tiếng Việt: Phở bò Hà Nội"), ("script", "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ"), ("script", "𐐀𐐁 Deseret"),
    # emoji
    ("emoji", "🐶🐱🐭🐹"), ("emoji", "Happy birthday! 🎉🎂🥳"), ("emoji", "👩‍👩‍👧‍👦 family"),
    ("emoji", "👍🏽 thumbs up"), ("emoji", "🇯🇵🇺🇸🏴󠁧󠁢󠁷󠁬󠁳󠁿 flags"), ("emoji", "❤️ love ♥ ☺️"),
    ("emoji", "sunset🌅beach🏖️"), ("emoji", "🫠🫡🪿 new emoji"),
    # normalisation, width, quotes, ligatures
    ("nfd", "Cafe\u0301 de\u0301cor"), ("nfd", "n\u0303 a\u0308 o\u0302"), ("width", "ＬＯＵＤ　ＮＯＩＳＥＳ！"),
    ("width", "ﾗｰﾒﾝ ｶﾞｷﾞｸﾞ"), ("width", "ｈｅｌｌｏ，ｗｏｒｌｄ：１２３"), ("quotes", "“Don’t stop” — it‘s ‚fine‛"),
    ("quotes", "Rock ʼnʼ roll"), ("ligature", "ﬁnal ﬂoor ﬀ ﬃ ﬄ ﬅ ﬆ Ĳssel ǅ"), ("ligature", "ŉ"),
    # HTML entities
    ("html", "Tom &amp; Jerry"), ("html", "&quot;Quoted&quot; &lt;b&gt;bold&lt;/b&gt;"),
    ("html", "It&#39;s &#x27;fine&#X27;"), ("html", "caf&eacute; cr&egrave;me br&ucirc;l&eacute;e"),
    ("html", "Fish &amp;amp; Chips"), ("html", "A &amp;amp;amp; B (three levels)"),
    ("html", "&nbsp;&nbsp;price&nbsp;&euro;10"), ("html", "&copy 2024 &reg &notit; &notin; &ampx"),
    ("html", "&#0; &#128; &#x80; &#150; &#xD800; &#x110000; &#99999999999999999999; &#1; &#11; &#xFDD0; &#xFFFE;"),
    ("html", "&#x1F600; &#128512; &#65;&#66;&#67"), ("html", "&bogus; &; &# &#x; & amp;"),
    ("html", "<b>Bold</b> &amp; <i>italic</i>"), ("html", "AT&T and H&M &"), ("html", "&AMP; &Amp; &LT;"),
    ("html", "&NotNestedGreaterGreater; &nGt; &acE;"),
    # control characters, terminal escapes, C1
    ("control", "bell\x07 null\x00 del\x7f"), ("control", "\x1b[31mred\x1b[0m text"), ("control", "zero\u200bwidth\u200cjoin\u200d"),
    ("control", "\ufeffBOM at start"), ("control", "c1 \x85 \x91quoted\x92 \x80 \x81"), ("control", "rtl \u202emark\u202c"),
    ("control", "\ufff9anno\ufffb"), ("control", "\u206aold\u206f"),
    # special-token strings
    ("special", "<start_of_text>"), ("special", "a <end_of_text> b"), ("special", "<|endoftext|>"),
    ("special", "<START_OF_TEXT>"), ("special", "<start_of_text><end_of_text>"),
    ("special", "<\u017ftart_of_text> !<start_of_text>x"),
    # regex edge cases
    ("regex", "'S 'T 'RE 'VE 'M 'LL 'D"), ("regex", "it'S I'M"), ("regex", "'ſ 'K"), ("regex", "Ⅻ ⅻ ½ ² ³ ① ٣ ५"),
    ("regex", "\u0345 ͅ ᾳ"), ("regex", "a\u0345b \u0345!\u0345! \u0399\u0345"),
    ("regex", "\U00031350\U00031351 CJK extension H, \U00011bf0\U00011bf1 newer digits"), ("regex", "Kelvin \u212a ohm \u2126"), ("regex", "!!!???...,,,;;;---___"),
    ("regex", "1234567890 3.14159 1,000,000"), ("regex", "a\u0301\u0301\u0301 \u0301 \u0301a"),
    ("regex", "x\ufe0f y\u20e3 1\ufe0f\u20e3"), ("regex", "\ue000 private \U000f0000"), ("regex", "\ufffd replacement"),
    ("regex", "e-mail: someone@example.com, tel. +1 (555) 123-4567"), ("regex", "C++ / C# / F# / .NET"),
    ("regex", "mid·dot l·l ʼ ˈstress"), ("regex", "𝕳𝖊𝖑𝖑𝖔 𝓌𝑜𝓇𝓁𝒹"), ("regex", "ǅungla Ǆ ǆ"),
    # mojibake: ftfy repairs it, the Go port does not (documented difference)
    ("mojibake", "cafÃ© crÃ¨me"), ("mojibake", "âœ” No problems"), ("mojibake", "Ã¼ber Ã¶sterreich"),
    ("mojibake", "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows."),
]


def long_captions(rng):
    out = []
    out.append(("long", "a photo of a cat " * 40))
    out.append(("long", " ".join(rng.choice(SUBJECTS) for _ in range(60))))
    out.append(("long", "supercalifragilisticexpialidocious" * 30))
    out.append(("long", "🐶" * 200))
    out.append(("long", "漢字" * 150))
    out.append(("long", "x" * 5000))
    out.append(("long", ("word " * 74).strip()))   # 74 tokens: fits exactly with SOT+EOT... 76 ids
    out.append(("long", ("word " * 75).strip()))   # 77 ids: exactly the context
    out.append(("long", ("word " * 76).strip()))   # 78 ids: truncated
    out.append(("long", ("<end_of_text> " * 80)))
    out.append(("long", "! " * 100))
    return out


INVALID = [
    b"caf\xe9 au lait",                 # Latin-1 byte
    b"broken \xe2\x82 euro",            # truncated 3-byte sequence: one U+FFFD
    b"\xff\xfe\xfd bytes",               # never-valid bytes: one U+FFFD each
    b"surrogate \xed\xa0\x80 half",      # encoded surrogate: three U+FFFD
    b"overlong \xc0\xaf slash",          # overlong encoding
    b"\x80\x80\x80 continuation",        # lone continuation bytes
    b"end truncated \xf0\x9f\x98",       # truncated emoji at end
    b"\xf4\x90\x80\x80 above max",       # above U+10FFFF
    b"mix \xe6\x97\xa5\xe6\x9c \xe6\x9c\xac ok",  # good, truncated, good
    b"\xe0\x80\x80 e0 overlong",
    b"\xf0\x80\x80\x80 f0 overlong",
    b"\xc2 lone lead at end \xc2",
]


def records():
    rng = random.Random(7)
    out = [{"kind": k, "text": t} for k, t in realistic(rng)]
    out += [{"kind": k, "text": t} for k, t in SPECIAL]
    out += [{"kind": k, "text": t} for k, t in long_captions(rng)]
    out += [{"kind": "invalid_utf8", "raw_b64": base64.b64encode(b).decode()} for b in INVALID]
    # random unicode soup from many blocks, seeded
    blocks = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff), (0x900, 0x97f),
              (0x2000, 0x206f), (0x3000, 0x30ff), (0x4e00, 0x4eff), (0xac00, 0xacff), (0xff00, 0xffef),
              (0x1f300, 0x1f64f)]
    for _ in range(40):
        chars = []
        for _ in range(rng.randint(1, 40)):
            lo, hi = rng.choice(blocks)
            c = chr(rng.randint(lo, hi))
            if unicodedata.category(c) in ("Cs", "Cn"):
                continue
            chars.append(c)
        out.append({"kind": "unicode_soup", "text": "".join(chars)})
    return out


# ---------------------------------------------------------------- tokenising

_stock_fix_text = ftfy.fix_text

# The character-mapping subset of ftfy the Go port implements.
_PORTED = ftfy.TextFixerConfig(
    unescape_html=False, fix_encoding=False, restore_byte_a0=False, replace_lossy_sequences=False,
    decode_inconsistent_utf8=False, explain=False,
)


def ported_fix_text(text):
    return _stock_fix_text(text, _PORTED)


def tokenize_with(tok, fix, text):
    ftfy.fix_text = fix
    try:
        row = tok([text], context_length=CONTEXT)[0].tolist()
    finally:
        ftfy.fix_text = _stock_fix_text
    end = len(row) - 1 - row[::-1].index(tok.eot_token_id)  # the last end token
    assert all(x == 0 for x in row[end + 1:])
    return row[: end + 1]


def main():
    tok = open_clip.get_tokenizer("ViT-B-32")
    assert isinstance(tok, open_clip.tokenizer.SimpleTokenizer), type(tok)
    recs = records()
    for r in recs:
        text = base64.b64decode(r["raw_b64"]).decode("utf-8", errors="replace") if "raw_b64" in r else r["text"]
        r["ids"] = tokenize_with(tok, ported_fix_text, text)
        stock = tokenize_with(tok, _stock_fix_text, text)
        if stock != r["ids"]:
            r["ids_open_clip"] = stock
    doc = {
        "generator": "testdata/make_golden.py",
        "versions": {"open_clip": open_clip.__version__, "ftfy": ftfy.__version__, "regex": regex.__version__,
                     "torch": torch.__version__, "python": sys.version.split()[0],
                     "unicodedata": unicodedata.unidata_version},
        "context_length": CONTEXT,
        "captions": recs,
    }
    # One caption per line, so a regenerated file diffs readably.
    head = json.dumps({k: v for k, v in doc.items() if k != "captions"}, ensure_ascii=True)
    sys.stdout.write(head[:-1] + ', "captions": [\n')
    sys.stdout.write(",\n".join(json.dumps(r, ensure_ascii=True) for r in recs))
    sys.stdout.write("\n]}\n")
    print(f"{len(recs)} captions, {sum('ids_open_clip' in r for r in recs)} differ under stock ftfy",
          file=sys.stderr)


if __name__ == "__main__":
    main()
