"""What a day of appeals in 焦作 is made of: weights, handling units and a modest bank of texts.

Everything here is invented for the simulator (no real citizen wrote these lines) but shaped after the
kind of appeals a 12345 centre in a Henan prefecture-level city receives: street lights, vendors
blocking roads, heating, wage arrears, and farmers who cannot sell a harvest. Some texts carry phone
numbers, ID numbers and plates, a few in full-width digits, because real appeals do and the masking
downstream must cope.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Appeal volume by district: roughly population, with the urban districts writing in more per head.
DISTRICT_WEIGHTS = {
    "解放区": 14, "山阳区": 14, "中站区": 6, "马村区": 6, "修武县": 7,
    "博爱县": 9, "武陟县": 13, "温县": 9, "沁阳市": 11, "孟州市": 10,
}
URBAN = frozenset({"解放区", "山阳区", "中站区", "马村区"})
# Seat of each district's government (lon, lat); wechat appeals carry a point near it.
CENTRES = {
    "解放区": (113.2261, 35.2414), "中站区": (113.1755, 35.2361), "马村区": (113.3217, 35.2655),
    "山阳区": (113.2677, 35.2148), "修武县": (113.4475, 35.2299), "博爱县": (113.0693, 35.1704),
    "武陟县": (113.4083, 35.0989), "温县": (113.0791, 34.9412), "沁阳市": (112.9345, 35.0890),
    "孟州市": (112.7871, 34.9096),
}
CHANNEL_WEIGHTS = {"hotline": 50, "wechat": 30, "web": 20}
HOTLINE_CENTRE = "焦作市12345热线服务中心"    # answers simple questions on the call itself
CATEGORY_WEIGHTS = {
    "城市管理": 16, "住房物业": 14, "水电气暖": 11, "交通出行": 9, "劳动社保": 9, "市场监管": 8,
    "政策咨询": 8, "生态环境": 6, "教育": 6, "医疗卫生": 5, "农业农村": 5, "公共安全": 3,
}
# Farming appeals come from the counties; the city districts have few farms but many flats.
RURAL_FACTOR = {"农业农村": 2.2, "城市管理": 0.7, "住房物业": 0.7}
URBAN_FACTOR = {"农业农村": 0.15}
HEATING_MONTHS = (11, 12, 1, 2, 3)


@dataclass(frozen=True)
class Template:
    category: str
    title: str
    texts: tuple[str, ...]
    units: tuple[str, ...]        # "{d}" is the district, e.g. "{d}城市管理局" -> "温县城市管理局"
    months: tuple[int, ...] = ()  # empty: all year


T = Template
TEMPLATES = (
    T("城市管理", "小区路灯不亮", (
        "{road}{community}门口那一段路灯已经坏了{n}天，晚上一片漆黑，老人孩子出门很不安全，希望尽快维修。",
        "{community}东侧小路的路灯一直不亮，晚上下班回家只能打手机电筒，反映过一次没有下文。"),
      ("{d}城市管理局",)),
    T("城市管理", "占道经营", (
        "{road}与{road2}交叉口每天早上有商贩占道摆摊，卖菜卖早点的把人行道和半个车道都占了，车辆通行困难。",
        "{community}门口晚上有夜市摊位占道经营到凌晨，油烟和噪音很大，影响居民休息，希望城管管理一下。"),
      ("{d}城市管理局",)),
    T("城市管理", "垃圾清运不及时", (
        "{community}北侧的垃圾桶满了好几天没人清运，天一热味道很大，招了很多苍蝇蚊子。",),
      ("{d}城市管理局", "{d}环境卫生服务中心")),
    T("城市管理", "井盖破损", (
        "{road}{n}号附近有个井盖破损下陷，电动车经过很危险，昨天已经有人摔倒了。",),
      ("{d}城市管理局",)),
    T("交通出行", "道路坑洼积水", (
        "{road}从{road2}往东一段路面坑洼不平，下雨后积水很深，电动车骑过去很危险，希望尽快修补。",),
      ("{d}交通运输局", "市交通运输局")),
    T("交通出行", "车辆堵占消防通道", (
        "车牌号{plate}的小轿车长期停在{community}消防通道上，物业劝说无效，请交警部门处理。",
        "{community}{n}号楼下有辆{plate}的面包车一停就是半个月，堵住了消防通道。"),
      ("市公安局交通警察支队",)),
    T("交通出行", "公交线路调整咨询", (
        "请问{n}路公交车最近是不是改线了？原来在{road}有站，现在不停了，我们{community}的居民出行很不方便。",),
      ("市交通运输局", "焦作市公共交通公司")),
    T("交通出行", "路口红绿灯时间太短", (
        "{road}和{road2}路口行人绿灯只有十几秒，老人走到一半就变红灯了，建议延长。",),
      ("市公安局交通警察支队",)),
    T("教育", "幼儿园招生咨询", (
        "孩子今年九月满三周岁，户口在{d}，想咨询{school}幼儿园什么时候开始报名，需要准备哪些材料？",
        "我们住在{community}，请问附近公办幼儿园今年还招不招小班？电话{phone}。"),
      ("{d}教育局",)),
    T("教育", "小学学区划分咨询", (
        "我们住在{community}，想问一下今年小学学区是怎么划分的，孩子应该到哪所学校报名？",),
      ("{d}教育局", "市教育局")),
    T("教育", "培训机构不退费", (
        "孩子在{road}一家培训机构报了课，交了{amount}元，现在机构关门联系不上人，要求退费。联系电话{phone}",),
      ("{d}教育局",)),
    T("医疗卫生", "异地就医报销", (
        "在外地住院的费用回来报销，跑了两趟还没办成，请问异地就医备案怎么办理？身份证号{idno}。",),
      ("市医疗保障局",)),
    T("医疗卫生", "医院排队时间长", (
        "{d}人民医院门诊收费窗口早上只开两个，排队一个多小时，希望增加窗口或者推广手机缴费。",),
      ("{d}卫生健康委员会",)),
    T("医疗卫生", "疫苗接种咨询", (
        "孩子该打{n}月龄的疫苗了，社区卫生服务中心说没有货，请问什么时候能到？",),
      ("{d}卫生健康委员会",)),
    T("住房物业", "电梯频繁故障", (
        "{community}{n}号楼电梯经常坏，这个月已经停了三次，楼里有好几位老人上下楼很困难，物业一直拖着不修。",),
      ("{d}住房和城乡建设局", "市住建局")),
    T("住房物业", "不动产权证迟迟办不下来", (
        "{year}年在{community}买的房子，到现在还没办下来不动产权证，开发商一直推脱，请帮忙协调。",),
      ("市住建局", "市不动产登记中心")),
    T("住房物业", "楼上漏水物业不管", (
        "楼上卫生间漏水到我家，墙皮都泡掉了，找物业协调了一个多月没有解决。电话{phone}",),
      ("{d}住房和城乡建设局",)),
    T("住房物业", "老旧小区改造咨询", (
        "{community}是九十年代的老小区，管网老化、没有停车位，想问一下今年有没有列入老旧小区改造计划？",),
      ("市住建局",)),
    T("农业农村", "农户白菜滞销", (
        "我是{village}的种植户，今年种了{n}亩白菜，地里的菜卖不出去，收购价压到一毛多一斤，希望政府帮忙联系销路。电话{phone}",
        "{village}好多户的大白菜滞销，菜贩子不来收，眼看要上冻了，请帮我们想想办法。"),
      ("{d}农业农村局", "市农业农村局")),
    T("农业农村", "农产品滞销求助", (
        "{village}今年{crop}丰收了，可是客商来得少，村里有几万斤{crop}积压着，再放下去就要坏了。",),
      ("{d}农业农村局",)),
    T("农业农村", "机井损坏影响浇地", (
        "{village}南地的机井坏了半个月，眼看小麦要浇返青水了，村里反映了几次没人修。",),
      ("{d}水利局", "{d}农业农村局")),
    T("农业农村", "种粮补贴未到账", (
        "请问今年的耕地地力保护补贴什么时候发？我家{n}亩地的补贴到现在还没收到。身份证号{idno}",),
      ("{d}农业农村局", "{d}财政局")),
    T("水电气暖", "小区停水无通知", (
        "{community}从昨天晚上开始停水，到现在也没来水，事先也没有通知，居民做饭洗漱都成问题。",),
      ("市自来水公司",)),
    T("水电气暖", "频繁停电", (
        "{place}这几天老是停电，一天停好几次，家里的冰箱和电动车充电都受影响。",),
      ("国网焦作供电公司",)),
    T("水电气暖", "供暖不热", (
        "{community}{n}号楼家里暖气片不热，室内只有十二三度，老人孩子受不了，维修人员来看过也没解决。",
        "交了取暖费，暖气一直是温的，{community}好几户都一样，请供热单位给个说法。"),
      ("市热力公司", "{d}住房和城乡建设局"), HEATING_MONTHS),
    T("水电气暖", "燃气迟迟不通", (
        "{community}燃气管道改造完一个多月了还没通气，每天做饭只能用电磁炉。",),
      ("市燃气公司",)),
    T("生态环境", "工地夜间施工噪音", (
        "{road}有个工地晚上十一点多还在施工，噪音特别大，周边居民没法休息。",),
      ("市生态环境局{d}分局", "{d}城市管理局")),
    T("生态环境", "焚烧垃圾冒黑烟", (
        "{village}村口有人焚烧垃圾和塑料，浓烟很呛，已经连着好几天了。",),
      ("市生态环境局{d}分局",)),
    T("生态环境", "工厂夜间排放异味", (
        "{road}附近一家厂子晚上排放刺鼻的气味，开着窗根本睡不着，怀疑偷排。",),
      ("市生态环境局{d}分局",)),
    T("劳动社保", "拖欠工资", (
        "我在{road}一个工地干活，老板拖欠我们{n}个工人的工资共{amount}元，一直不给，请帮忙讨薪。身份证号{idno}，电话{phone}",
        "在{d}一家厂里上班，已经三个月没发工资了，老板说资金困难，让我们再等等。"),
      ("{d}人力资源和社会保障局", "市劳动保障监察支队")),
    T("劳动社保", "灵活就业养老保险咨询", (
        "想咨询一下灵活就业人员养老保险怎么交，今年的缴费档次是多少？",),
      ("市社会保险中心",)),
    T("劳动社保", "社保卡补办", (
        "社保卡丢了，补办需要带什么材料，能不能在手机上办？身份证号{idno}",),
      ("市社会保险中心",)),
    T("市场监管", "预付卡商家关门", (
        "在{road}一家健身房办了{amount}元的年卡，现在店关门了，老板电话打不通，要求退费。",),
      ("{d}市场监督管理局",)),
    T("市场监管", "饭店食品安全", (
        "昨天在{road}一家饭店吃饭，回去全家都拉肚子，怀疑食材不新鲜，请市场监管部门检查。",),
      ("{d}市场监督管理局",)),
    T("市场监管", "超市标价与结账不一致", (
        "{community}附近一家超市货架标价和结账价格不一样，多收钱，找店员也不承认。",),
      ("{d}市场监督管理局",)),
    T("公共安全", "楼道私拉电线充电", (
        "{community}{n}号楼有人从窗户私拉电线给电动车充电，还有人把电动车推进楼道，存在火灾隐患。",),
      ("{d}消防救援大队",)),
    T("公共安全", "烧烤店深夜喧哗", (
        "{road}一家烧烤店门口每天深夜都有人喝酒吵闹，有时候还打架，严重影响附近居民。",),
      ("市公安局{d}分局",)),
    T("政策咨询", "生育补贴政策咨询", (
        "想咨询一下现在生育三孩有什么补贴，需要到哪里申请，要带哪些材料？",),
      ("市卫生健康委员会",)),
    T("政策咨询", "落户政策咨询", (
        "外地户口，在{d}买了房，想把户口迁过来，需要什么材料？孩子上学能不能一起迁？",),
      ("市公安局{d}分局",)),
    T("政策咨询", "营业执照办理咨询", (
        "想在{road}开个小吃店，办营业执照需要哪些材料，能不能网上办理？电话{phone}",),
      ("{d}行政审批服务局",)),
    T("政策咨询", "公积金提取咨询", (
        "租房提取住房公积金需要什么手续？一年可以提几次？",),
      ("市住房公积金管理中心",)),
)

REPLIES = {
    "": ("经{unit}核实，已安排工作人员到现场处理，问题已解决，并已电话告知诉求人。",
         "{unit}已与诉求人取得联系，说明了处理情况和相关政策，诉求人表示认可。",
         "{unit}已协调相关单位处理完毕，后续将加强日常巡查，防止问题反复。"),
    "农业农村": ("{unit}已联系本地商超和农产品经纪人上门收购，首批{n}吨已经售出，剩余部分正在对接。",
              "{unit}已组织农技人员到村查看，并协调电商平台帮助销售。"),
    "政策咨询": ("{unit}已电话回复诉求人，详细解答了办理条件、所需材料和办理地点。",),
    "劳动社保": ("经{unit}调查，用人单位已承诺在约定时间内支付拖欠工资，首笔款项已到账。",
              "{unit}已电话解答社保办理流程，诉求人表示清楚。"),
}

ROADS = ("人民路", "解放路", "建设路", "民主路", "塔南路", "丰收路", "山阳路", "焦东路", "中原路",
         "迎宾路", "太行路", "新华街", "和平街", "工业路", "文昌路", "健康路", "站前路", "世纪大道")
COMMUNITIES = ("和平小区", "建设新村", "锦华苑", "幸福家园", "东方花园", "翠园小区", "阳光新城",
               "铁路家属院", "矿务局家属院", "龙源小区", "丰收苑", "怡景园", "泰和家园", "新华小区",
               "紫薇苑", "世纪花园", "滨河花园", "康宁小区")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林宋"
VILLAGE_ENDINGS = ("庄", "营", "屯", "寨", "楼", "沟", "岗", "堡")
SCHOOLS = ("实验", "第一", "第二", "育才", "光明", "朝阳", "文昌", "东方红")
CROPS = ("山药", "怀菊花", "红薯", "西瓜", "大葱", "花生", "苹果", "梨")
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def phone(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return "0391-" + "".join(rng.choice("0123456789") for _ in range(7))
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def id_number(rng: random.Random, district_key: str) -> str:
    """18 digits with a valid check character: what a real 居民身份证 number looks like."""
    body = (district_key + f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            + f"{rng.randint(0, 999):03d}")
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS)) % 11]
    return body + check


def plate(rng: random.Random) -> str:
    tail = "".join(rng.choice("0123456789" + PLATE_LETTERS[:6]) for _ in range(4))
    return "豫H" + rng.choice(PLATE_LETTERS) + rng.choice(("", "·")) + tail


def village(rng: random.Random, district: str) -> str:
    return f"{district}{rng.choice(SURNAMES)}{rng.choice(VILLAGE_ENDINGS)}村"


def fill(rng: random.Random, text: str, district: str, district_key: str, unit: str = "") -> str:
    """Fill a template's placeholders; some digits come out full-width, as pasted from a phone."""
    road, road2 = rng.sample(ROADS, 2)
    community = rng.choice(COMMUNITIES)
    values = {
        "d": district, "road": road, "road2": road2, "community": community, "unit": unit,
        "village": village(rng, district), "school": rng.choice(SCHOOLS), "crop": rng.choice(CROPS),
        "place": community if district in URBAN or rng.random() < 0.4 else village(rng, district),
        "n": str(rng.randint(2, 30)), "year": str(rng.randint(2012, 2022)),
        "amount": str(rng.choice((1800, 2600, 3980, 6800, 12000, 23500, 46000))),
        "phone": phone(rng), "idno": id_number(rng, district_key), "plate": plate(rng),
    }
    if rng.random() < 0.3:
        for name in ("phone", "idno"):
            values[name] = values[name].translate(_FULL_WIDTH)
    return text.format(**values)
