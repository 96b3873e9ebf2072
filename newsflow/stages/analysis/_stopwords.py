"""Stop words for keyword extraction, as data.

English: function words, reporting verbs and calendar words that say nothing about what an
article is about. Chinese: frequent words of news prose, simplified and traditional.
"""

from __future__ import annotations

_ENGLISH_WORDS = """
    a about above according across after afterwards again against ago ahead all almost alone
    along already also although always am among amid amongst an and another any anyone anything
    anyway are around as ask asked at away back be became because become becomes been before
    behind being below beside besides between beyond both but by can cannot could did do does
    doing done down during each either else elsewhere enough especially even ever every
    everyone everything far few first for former formerly from further get gets getting give
    given go going gone got had has have having he her here hers herself him himself his how
    however i if in including indeed instead into is it its itself just last later latest least
    less let like likely made make makes making many may me meanwhile might mine more moreover
    most mostly much must my myself near nearly need neither never nevertheless new next no
    nobody none nor not nothing now of off often on once one only onto or other others otherwise
    our ours ourselves out over own part per perhaps please put rather re really said same say
    saying says second see seem seemed seems several she should since so some someone something
    sometimes somewhat still such take taken than that the their theirs them themselves then
    there thereby therefore these they thing things third this those though three through
    throughout thus to today together told too toward towards two under until up upon us use
    used using very via want was way we week weeks well were what whatever when whenever where
    whereas whether which while who whoever whole whom whose why will with within without
    would year years yet you your yours yourself yourselves yesterday tomorrow time times day
    days month months monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august september october november december jan feb mar apr jun jul
    aug sep sept oct nov dec mr mrs ms dr reuters bloomberg associated press afp told tell
    tells stated statement added adds noted report reported reports reporting according
    percent pct cent million billion trillion thousand hundred around about approximately
    per cent don doesn didn isn wasn aren weren won wouldn couldn shouldn ve ll image images
    photo photos getty file read more click subscribe newsletter advertisement related
"""
ENGLISH: frozenset[str] = frozenset(_ENGLISH_WORDS.split())

_ZH_STOP_WORDS = """
    表示 我们 我們 他们 他們 她们 她們 这个 這個 一个 一個 没有 沒有 可以 已经 已經 目前 今年 去年
    明年 记者 記者 报道 報道 報導 新闻 新聞 时间 時間 进行 進行 如果 因为 因為 所以 但是 以及 其中
    同时 同時 此外 据悉 據悉 认为 認為 指出 称为 稱為 相关 相關 方面 问题 問題 情况 情況 通过 通過
    今天 昨天 明天 日前 近日 本周 本週 上周 上週 下周 下週 本月 上月 下月 当地 當地 发现 發現 成为
    成為 需要 一些 这些 這些 那些 不是 就是 还是 還是 以上 以下 之后 之後 之前 以来 以來 其他 自己
    非常 可能 应该 應該 对于 對於 关于 關於 由于 由於 不过 不過 而且 并且 並且 虽然 雖然 一直 开始
    開始 继续 繼續 进一步 進一步 责任编辑 責任編輯 编辑 編輯 来源 來源 原标题 原標題
"""
#: Frequent words of news prose that are never keywords.
ZH_STOP: frozenset[str] = frozenset(_ZH_STOP_WORDS.split())

#: Chinese numerals: a term made only of these is a number, not a keyword.
ZH_NUMERALS: frozenset[str] = frozenset("一二三四五六七八九十百千万萬亿億零两兩半几幾")
