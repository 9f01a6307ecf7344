"""Deterministic generators for demo entities and inspectors.

Everything here is driven by a seeded ``random.Random``: the same seed gives the
same rows on every machine. Entities are produced lazily (a generator of dicts),
so a million rows can be streamed into the database in chunks.

The ``industry`` vocabulary below is the one the demo plans filter on
(``entity_filters`` in ``app/demo/data/plan_*.json``); ``matches_filters``
documents how those filters read.
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice
from typing import Any

from app.directory.uscc import make_uscc

DEFAULT_SEED = 20230227  # the day 晋市市监〔2023〕21号 was issued
DEFAULT_ENTITY_COUNT = 5000


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class Region:
    """A county-level area with its market-regulation stations (管辖所)."""

    code: str
    short: str  # 城区, 阳城县 ...
    province: str  # 山西省
    city: str  # 晋城市
    bureau: str  # 城区市场监管局: the prefix of station names
    towns: tuple[tuple[str, str], ...]  # (town or sub-district, station short name)
    roads: tuple[str, ...]
    weight: int

    @property
    def full(self) -> str:
        """The name individual businesses carry: 晋城市城区, 阳城县."""
        return f"{self.city}{self.short}" if self.short.endswith("区") else self.short

    def station(self, town_index: int) -> str:
        return f"{self.bureau}{self.towns[town_index][1]}"

    @property
    def stations(self) -> list[str]:
        return [self.station(i) for i in range(len(self.towns))]


JINCHENG_REGIONS: tuple[Region, ...] = (
    Region("140502", "城区", "山西省", "晋城市", "城区市场监管局",
           (("西街街道", "西街所"), ("东街街道", "东街所"), ("北石店镇", "北石店所"), ("钟家庄街道", "钟家庄所")),
           ("凤台西街", "泽州路", "黄华街", "书院街", "红星东街", "太行路", "景德桥路", "文昌东街"), 30),
    Region("140525", "泽州县", "山西省", "晋城市", "泽州县市场监管局",
           (("南村镇", "南村所"), ("巴公镇", "巴公所"), ("高都镇", "高都所"), ("金村镇", "金村所")),
           ("府城路", "泽州南路", "丹河路", "巴公大街", "晋韩路"), 20),
    Region("140581", "高平市", "山西省", "晋城市", "高平市市场监管局",
           (("东城街道", "东城所"), ("北城街道", "北城所"), ("米山镇", "米山所"), ("河西镇", "河西所")),
           ("长平东街", "神农路", "炎帝大街", "建设路", "友谊路"), 18),
    Region("140522", "阳城县", "山西省", "晋城市", "阳城县市场监管局",
           (("凤城镇", "凤城所"), ("北留镇", "北留所"), ("润城镇", "润城所"), ("町店镇", "町店所")),
           ("凤栖路", "新阳东街", "阳泰路", "东关大街"), 14),
    Region("140521", "沁水县", "山西省", "晋城市", "沁水县市场监管局",
           (("龙港镇", "龙港所"), ("嘉峰镇", "嘉峰所"), ("端氏镇", "端氏所")),
           ("沁河路", "杏河大道", "梅杏路"), 10),
    Region("140524", "陵川县", "山西省", "晋城市", "陵川县市场监管局",
           (("崇文镇", "崇文所"), ("礼义镇", "礼义所"), ("附城镇", "附城所")),
           ("太行大街", "梅园路", "凤凰路"), 8),
)

HANDAN_REGIONS: tuple[Region, ...] = (
    Region("130402", "邯山区", "河北省", "邯郸市", "邯山区市场监管局",
           (("火磨街道", "火磨所"), ("光明路街道", "光明路所")), ("人民路", "陵园路", "光明南大街", "中华南大街"), 30),
    Region("130403", "丛台区", "河北省", "邯郸市", "丛台区市场监管局",
           (("丛台西街道", "丛台西所"), ("联纺路街道", "联纺路所")), ("丛台路", "联纺路", "中华北大街", "滏东北大街"), 30),
    Region("130404", "复兴区", "河北省", "邯郸市", "复兴区市场监管局",
           (("胜利桥街道", "胜利桥所"), ("百家村街道", "百家村所")), ("复兴路", "建设大街", "铁西大街"), 20),
    Region("130481", "武安市", "河北省", "邯郸市", "武安市市场监管局",
           (("武安镇", "武安所"), ("午汲镇", "午汲所")), ("洺湖路", "南环路", "新华大街"), 20),
)

HANDAN_SHARE = 0.15  # share of generated entities registered in Handan


# --------------------------------------------------------------------------- industries

E, I, C, O = "enterprise", "individual", "cooperative", "other"


@dataclass(frozen=True)
class Industry:
    """One label of the industry vocabulary with how its entities are named and weighted.

    ``templates`` maps an entity kind to (weight, name templates). Placeholders:
    {place} (晋城市 or the county, for enterprises), {iplace} (晋城市城区 / 阳城县),
    {town}, {brand}, {trade}, {num}.
    """

    label: str
    jincheng: int  # relative weight among Jincheng entities
    handan: int  # relative weight among Handan entities
    templates: Mapping[str, tuple[int, tuple[str, ...]]]
    heavy: bool = False  # production: larger scales
    note: str = ""


INDUSTRIES: tuple[Industry, ...] = (
    # Filtered on by the Jincheng SAMR 2023 plan (seed 004)
    Industry("工业产品生产许可证获证企业", 25, 0, {E: (1, (
        "{place}{brand}建材有限公司", "{place}{brand}水泥有限公司", "{place}{brand}电线电缆有限公司",
        "{place}{brand}化工有限公司", "{place}{brand}钢筋制品有限公司", "{place}{brand}化肥有限公司"))}, heavy=True,
        note="task 4"),
    Industry("食品相关产品生产", 12, 0, {E: (1, (
        "{place}{brand}包装制品有限公司", "{place}{brand}塑料制品有限公司", "{place}{brand}纸制品有限公司"))},
        heavy=True, note="task 5"),
    Industry("食品生产", 30, 0, {E: (1, (
        "{place}{brand}食品有限公司", "{place}{brand}酒业有限公司", "{place}{brand}面粉有限公司",
        "{place}{brand}醋业有限公司", "{place}{brand}乳业有限公司", "{place}{brand}饮品有限公司"))},
        heavy=True, note="task 6"),
    Industry("眼镜制配", 18, 4, {
        E: (4, ("{place}{brand}眼镜有限公司", "{place}{brand}视光科技有限公司")),
        I: (6, ("{iplace}{brand}眼镜店", "{iplace}{brand}眼镜行", "{iplace}{brand}视光眼镜店"))}, note="task 7"),
    Industry("加油站", 22, 0, {
        E: (17, ("{place}{brand}石油销售有限公司", "{place}{brand}能源有限公司{town}加油站", "{place}{brand}加油站有限公司")),
        I: (3, ("{iplace}{town}{brand}加油站",))}, note="task 8"),
    Industry("自愿性认证获证组织", 25, 0, {E: (1, (
        "{place}{brand}科技有限公司", "{place}{brand}工贸有限公司", "{place}{brand}建设工程有限公司"))}, note="task 14"),
    Industry("强制性产品认证获证组织", 15, 0, {E: (1, (
        "{place}{brand}电器有限公司", "{place}{brand}电子科技有限公司", "{place}{brand}汽车配件有限公司",
        "{place}{brand}防爆电气有限公司"))}, heavy=True, note="task 15"),
    Industry("企业标准自我声明公开", 20, 0, {E: (1, (
        "{place}{brand}实业有限公司", "{place}{brand}新材料有限公司", "{place}{brand}农产品开发有限公司"))},
        note="task 16"),
    Industry("团体标准", 6, 0, {O: (1, ("{place}{trade}协会", "{place}{trade}商会", "{place}{trade}行业协会"))},
             note="task 17: social organisations that published group standards (USCC 51…)"),
    Industry("直销", 12, 0, {
        E: (7, ("{place}{brand}健康科技有限公司", "{place}{brand}日用品经销有限公司")),
        I: (3, ("{iplace}{brand}日化经销部",))}, note="task 18"),
    Industry("食品销售", 130, 150, {
        E: (45, ("{place}{brand}商贸有限公司", "{place}{brand}超市有限公司", "{place}{brand}食品销售有限公司",
                 "{place}{brand}母婴用品有限公司", "{place}{brand}保健食品有限公司")),
        I: (55, ("{iplace}{brand}超市", "{iplace}{brand}便利店", "{iplace}{brand}副食部", "{iplace}{brand}烟酒商行"))},
        note="task 23 (scale medium/small)"),
    Industry("餐饮服务", 120, 150, {
        E: (30, ("{place}{brand}餐饮管理有限公司", "{place}{brand}酒店管理有限公司")),
        I: (68, ("{iplace}{brand}饭店", "{iplace}{brand}面馆", "{iplace}{brand}火锅店", "{iplace}{brand}小吃店")),
        O: (2, ("{place}第{num}中学食堂", "{iplace}{town}中心小学食堂", "{place}{brand}幼儿园食堂",
                "{iplace}{town}中学食堂"))},
        note="task 24; kind other: school and kindergarten canteens (USCC 12…, 事业单位)"),
    # Jincheng commerce check-item list (seed 000) and the Handan 2023 plan (seed 002)
    Industry("成品油零售", 0, 80, {E: (1, (
        "{place}{brand}石油销售有限公司", "{place}{brand}石化有限公司{town}加油站", "{place}{brand}能源有限公司"))},
        note="Handan task 001号"),
    Industry("拍卖", 5, 40, {E: (1, ("{place}{brand}拍卖有限公司", "{place}{brand}拍卖行有限公司"))},
             note="Handan task 002号; JCSW-09"),
    Industry("二手车", 15, 80, {
        E: (8, ("{place}{brand}二手车销售有限公司", "{place}{brand}二手车交易市场有限公司", "{place}{brand}汽车贸易有限公司")),
        I: (2, ("{iplace}{brand}二手车行",))}, note="Handan task 003号; JCSW-04"),
    Industry("单用途商业预付卡", 15, 30, {E: (1, (
        "{place}{brand}百货有限公司", "{place}{brand}美容美发有限公司", "{place}{brand}健身服务有限公司",
        "{place}{brand}洗浴有限公司", "{place}{brand}教育咨询有限公司"))}, note="JCSW-01"),
    Industry("外商投资", 10, 0, {E: (1, (
        "{place}{brand}煤层气开发有限公司", "{place}{brand}国际贸易有限公司", "{place}{brand}精密机械有限公司"))},
        heavy=True, note="JCSW-02"),
    Industry("再生资源回收", 12, 30, {
        E: (6, ("{place}{brand}再生资源回收有限公司", "{place}{brand}物资回收有限公司")),
        I: (4, ("{iplace}{brand}废品回收站",))}, note="JCSW-03"),
    Industry("对外劳务合作", 4, 0, {E: (1, (
        "{place}{brand}国际经济技术合作有限公司", "{place}{brand}对外劳务合作有限公司"))}, note="JCSW-05"),
    Industry("报废机动车回收", 4, 5, {E: (1, (
        "{place}{brand}报废汽车回收拆解有限公司", "{place}{brand}报废机动车回收有限公司"))}, note="JCSW-06"),
    Industry("特许经营", 10, 20, {E: (1, (
        "{place}{brand}餐饮连锁管理有限公司", "{place}{brand}品牌管理有限公司", "{place}{brand}连锁超市有限公司"))},
        note="JCSW-07"),
    Industry("汽车销售", 15, 40, {E: (1, ("{place}{brand}汽车销售服务有限公司", "{place}{brand}汽车贸易有限公司"))},
             note="JCSW-08"),
    Industry("认证机构", 3, 0, {E: (1, ("{place}{brand}认证服务有限公司", "{place}{brand}检验检测认证有限公司"))}),
    # Everything else in the directory
    Industry("批发零售", 160, 200, {
        E: (4, ("{place}{brand}商贸有限公司", "{place}{brand}贸易有限公司", "{place}{brand}工贸有限公司")),
        I: (6, ("{iplace}{brand}五金店", "{iplace}{brand}服装店", "{iplace}{brand}建材门市", "{iplace}{brand}家电商行"))}),
    Industry("建筑业", 70, 60, {E: (1, ("{place}{brand}建筑工程有限公司", "{place}{brand}建设有限公司",
                                         "{place}{brand}装饰工程有限公司"))}),
    Industry("煤炭", 40, 10, {E: (1, ("{place}{brand}煤业有限公司", "{place}{brand}煤炭运销有限公司"))}, heavy=True),
    Industry("交通运输", 45, 50, {
        E: (8, ("{place}{brand}物流有限公司", "{place}{brand}运输有限公司")),
        I: (2, ("{iplace}{brand}货运部",))}),
    Industry("信息技术服务", 35, 30, {E: (1, ("{place}{brand}网络科技有限公司", "{place}{brand}信息技术有限公司"))}),
    Industry("居民服务", 60, 60, {
        E: (2, ("{place}{brand}家政服务有限公司",)),
        I: (8, ("{iplace}{brand}理发店", "{iplace}{brand}洗车行", "{iplace}{brand}家电维修部"))}),
    Industry("住宿", 25, 20, {
        E: (4, ("{place}{brand}酒店有限公司",)),
        I: (6, ("{iplace}{brand}宾馆", "{iplace}{brand}旅馆"))}),
    Industry("农业", 45, 20, {
        E: (2, ("{place}{brand}农业开发有限公司",)),
        C: (8, ("{iplace}{town}{brand}种植专业合作社", "{iplace}{town}{brand}养殖专业合作社",
                "{iplace}{town}{brand}农机服务专业合作社", "{iplace}{town}{brand}中药材种植专业合作社"))}),
)

INDUSTRY_LABELS: tuple[str, ...] = tuple(i.label for i in INDUSTRIES)
_BY_LABEL = {i.label: i for i in INDUSTRIES}

# USCC authority + category per kind (GB 32100: 9 market regulation, 5 civil affairs, 1 establishment office)
_USCC_PREFIX = {E: ("9", "1"), I: ("9", "2"), C: ("9", "3")}
_OTHER_PREFIX = {"团体标准": ("5", "1"), "餐饮服务": ("1", "2")}

RISK_FLAGS = ("年报全0申报", "关联企业", "一址多照")  # risk-warning kinds of seed 004, tasks 20–22

QUALIFICATIONS: tuple[str, ...] = (
    "食品安全", "产品质量", "特种设备", "计量", "认证认可", "标准化", "信用监管", "价格监督", "网络监测", "商务执法",
)

# --------------------------------------------------------------------------- names

_BRAND_CHARS = (
    "鑫宏华金瑞恒永泰兴富盛聚鸿祥嘉天德新顺汇福安康昌广明荣益信通源达丰利隆和佳凯锦诚润亿中宝旺"
)
_TRADES = (
    "食品工业", "餐饮烹饪", "建筑业", "物流", "电子商务", "汽车流通", "质量管理", "标准化", "陶瓷", "铸造",
    "旅游", "农产品加工", "中医药", "家政服务", "美容美发",
)
_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭"
    "申牛原常焦秦卫靳司崔段裴武"
)
_GIVEN = "建国伟军红霞丽娟敏静强磊洋勇艳杰涛明超秀英华平刚桂兰芳玉梅海波鹏辉飞鑫宇浩然晓东志文斌峰琳雪婷晨阳佳欣"


def chinese_name(rng: random.Random) -> str:
    """A plausible Chinese personal name: surname and one or two given characters."""
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.3:
        return surname + rng.choice(_GIVEN)
    first, second = rng.sample(_GIVEN, 2)
    return surname + first + second


def _brand(rng: random.Random) -> str:
    a = rng.choice(_BRAND_CHARS)
    b = rng.choice(_BRAND_CHARS)
    while b == a:
        b = rng.choice(_BRAND_CHARS)
    return a + b


# --------------------------------------------------------------------------- entities

_CREDIT = (("A", 20), ("B", 55), ("C", 15), ("D", 5), (None, 5))
_STATUS = (("active", 955), ("closed", 20), ("deregistered", 15), ("revoked", 5), ("moved_out", 5))
_SCALE_ENTERPRISE = (("large", 2), ("medium", 10), ("small", 38), ("micro", 50))
_SCALE_HEAVY = (("large", 5), ("medium", 20), ("small", 45), ("micro", 30))
_SCALE_COOPERATIVE = (("small", 20), ("micro", 80))
_FIRST_DAY = date(1998, 1, 1)
_LAST_DAY = date(2023, 12, 31)


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _coverage_order() -> list[tuple[str, str]]:
    """(area, industry) pairs emitted first, so that even a small run covers every industry."""
    order = [("jc", i.label) for i in INDUSTRIES if i.jincheng]
    order += [("hd", i.label) for i in INDUSTRIES if i.handan]
    return order


_COVERAGE = _coverage_order()


def _entity(rng: random.Random, index: int) -> dict[str, Any]:
    if index < len(_COVERAGE):
        area, label = _COVERAGE[index]
        industry = _BY_LABEL[label]
    else:
        area = "hd" if rng.random() < HANDAN_SHARE else "jc"
        pool = [i for i in INDUSTRIES if (i.handan if area == "hd" else i.jincheng)]
        industry = rng.choices(pool, weights=[i.handan if area == "hd" else i.jincheng for i in pool])[0]
    regions = HANDAN_REGIONS if area == "hd" else JINCHENG_REGIONS
    region = rng.choices(regions, weights=[r.weight for r in regions])[0]
    town_index = rng.randrange(len(region.towns))
    town = region.towns[town_index][0]

    kinds = list(industry.templates)
    kind = rng.choices(kinds, weights=[industry.templates[k][0] for k in kinds])[0]
    template = rng.choice(industry.templates[kind][1])
    if rng.random() < 0.45 or region.short.endswith("区"):
        place = region.city
    else:
        place = region.short
    name = template.format(
        place=place, iplace=region.full, town=town, brand=_brand(rng),
        trade=rng.choice(_TRADES), num=rng.choice("一二三四五六七八九十"),
    )

    if kind == O:
        authority, category = _OTHER_PREFIX.get(industry.label, ("9", "9"))
        scale = None
        credit = None  # social organisations and public institutions are not credit-classified
    else:
        authority, category = _USCC_PREFIX[kind]
        if kind == E:
            scale = _weighted(rng, _SCALE_HEAVY if industry.heavy else _SCALE_ENTERPRISE)
        elif kind == C:
            scale = _weighted(rng, _SCALE_COOPERATIVE)
        else:
            scale = "micro"
        credit = _weighted(rng, _CREDIT)

    span = (_LAST_DAY - _FIRST_DAY).days
    registered_on = _FIRST_DAY + timedelta(days=int(span * rng.random() ** 0.6))  # more young firms than old
    road = rng.choice(region.roads)
    address = f"{region.province}{region.city}{region.short}{town}{road}{rng.randint(1, 999)}号"
    risk_flags = [f for f in RISK_FLAGS if kind == E and rng.random() < 0.03]
    return {
        "uscc": make_uscc(rng, region.code, authority, category),
        "name": name,
        "kind": kind,
        "industry": industry.label,
        "scale": scale,
        "region_code": region.code,
        "station": region.station(town_index),
        "address": address,
        "legal_representative": chinese_name(rng),
        "credit_class": credit,
        "status": _weighted(rng, _STATUS),
        "registered_on": registered_on,
        "risk_flags": risk_flags,  # no Entity column yet: the loader drops keys the model lacks
    }


def generate_entities(
    n: int = DEFAULT_ENTITY_COUNT, *, seed: int = DEFAULT_SEED, start: int = 0
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` entity rows (dicts keyed by Entity columns, plus ``risk_flags``).

    Deterministic for a given (seed, start); USCCs are valid and unique within one
    call. ``start`` offsets the stream (a different random stream, and the
    every-industry-first coverage only applies from index 0).
    """
    rng = random.Random(f"suiji-demo:{seed}:{start}")
    seen: set[str] = set()
    for index in range(start, start + n):
        row = _entity(rng, index)
        while row["uscc"] in seen:
            row["uscc"] = make_uscc(rng, row["region_code"], row["uscc"][0], row["uscc"][1])
        seen.add(row["uscc"])
        yield row


def chunked(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Split an iterable of rows into lists of at most ``size``."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def region_matches(region_code: str, wanted: str) -> bool:
    """GB/T 2260 hierarchy: 140500 covers every 1405xx county, 140000 the province."""
    prefix = wanted.strip()
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return region_code.startswith(prefix)


def matches_filters(entity: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether an entity row satisfies a task's ``entity_filters`` (or ``entity_filters_full``).

    Every key names an entity field and takes one value or a list of values (any
    of them), except: ``region_code`` is hierarchical (see ``region_matches``),
    ``registered_until`` is an ISO date (registered_on on or before it) and
    ``risk_flags`` matches when the entity carries any of the listed flags.
    """
    for key, wanted in filters.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if key == "region_code":
            ok = any(region_matches(str(entity.get("region_code", "")), v) for v in values)
        elif key == "registered_until":
            day = entity.get("registered_on")
            ok = day is not None and day <= date.fromisoformat(wanted)
        elif key == "risk_flags":
            ok = bool(set(entity.get("risk_flags") or ()) & set(values))
        else:
            ok = entity.get(key) in values
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- inspectors


@dataclass(frozen=True)
class _Posting:
    department: str
    count: int
    region: Region | None  # None: a city-level section, no station
    region_code: str = ""
    qualifications: tuple[str, ...] = field(default=())


_REGION_BY_CODE = {r.code: r for r in JINCHENG_REGIONS + HANDAN_REGIONS}

INSPECTOR_POSTINGS: tuple[_Posting, ...] = (
    _Posting("JC-SAMR-QUAL", 2, None, "140500", ("产品质量", "特种设备")),
    _Posting("JC-SAMR-FOOD", 2, None, "140500", ("食品安全",)),
    _Posting("JC-SAMR-FOODDIST", 2, None, "140500", ("食品安全",)),
    _Posting("JC-SAMR-CATER", 2, None, "140500", ("食品安全",)),
    _Posting("JC-SAMR-METRO", 2, None, "140500", ("计量",)),
    _Posting("JC-SAMR-CERT", 1, None, "140500", ("认证认可",)),
    _Posting("JC-SAMR-STD", 1, None, "140500", ("标准化",)),
    _Posting("JC-SAMR-DS", 1, None, "140500", ("价格监督", "网络监测")),
    _Posting("JC-SAMR-CREDIT", 2, None, "140500", ("信用监管",)),
    _Posting("JC-SAMR-CQ", 7, _REGION_BY_CODE["140502"]),
    _Posting("JC-SAMR-ZZ", 6, _REGION_BY_CODE["140525"]),
    _Posting("JC-SAMR-GP", 6, _REGION_BY_CODE["140581"]),
    _Posting("JC-SAMR-YC", 5, _REGION_BY_CODE["140522"]),
    _Posting("JC-SAMR-LC", 4, _REGION_BY_CODE["140524"]),
    _Posting("JC-SAMR-QS", 4, _REGION_BY_CODE["140521"]),
    _Posting("JC-COM", 5, None, "140500", ("商务执法",)),
    _Posting("HD-COM-ENF", 8, None, "130400", ("商务执法",)),
)

_COUNTY_QUALIFICATIONS = (
    ("食品安全", 40), ("产品质量", 12), ("特种设备", 10), ("计量", 8), ("信用监管", 10),
    ("价格监督", 6), ("网络监测", 6), ("标准化", 4), ("认证认可", 4),
)
_INACTIVE = {("JC-SAMR-ZZ", 5), ("JC-SAMR-QUAL", 1)}  # (department, position): retired or transferred


def generate_inspectors(*, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The 60 demo inspectors, each a dict with ``department_code`` instead of a department id.

    County inspectors are spread over their county's stations (every station has at
    least one); city-level sections and commerce law-enforcement units have no station.
    Certificate numbers are 14 digits: region code, year of issue, serial.
    """
    rng = random.Random(f"suiji-inspectors:{seed}")
    rows: list[dict[str, Any]] = []
    names: set[str] = set()
    serial = 100
    for posting in INSPECTOR_POSTINGS:
        for position in range(posting.count):
            name = chinese_name(rng)
            while name in names:
                name = chinese_name(rng)
            names.add(name)
            if posting.region is not None:
                region_code = posting.region.code
                station = posting.region.stations[position % len(posting.region.towns)]
                quals: set[str] = set()
                while len(quals) < rng.choice((1, 2, 2, 3)):
                    quals.add(_weighted(rng, _COUNTY_QUALIFICATIONS))
                qualifications = sorted(quals, key=QUALIFICATIONS.index)
            else:
                region_code = posting.region_code
                station = ""
                qualifications = list(posting.qualifications)
                if posting.department.startswith(("JC-COM", "HD-COM")) and rng.random() < 0.3:
                    qualifications.append("网络监测")
            serial += 1
            rows.append({
                "name": name,
                "department_code": posting.department,
                "station": station,
                "certificate_no": f"{region_code}{rng.choice((20, 21, 22, 23))}{serial:06d}",
                "qualifications": qualifications,
                "region_code": region_code,
                "active": (posting.department, position) not in _INACTIVE,
            })
    return rows
