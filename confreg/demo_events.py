"""The three demo events, with the real texts of the association's notices.

Pure data: no imports from the application.  Sources are the files in
``/work/shared/domain/``:

* ``xining``    -- the 2024 Xining meeting notice (verbatim);
* ``kunming``   -- the 2024 Kunming training course.  Only a *report* of the course
  survives, so its notice is rebuilt from that report; deadlines, fees, capacity,
  publication date and contacts are not in the report and were set by the organiser
  after the Xining notice (``fee_note`` says so);
* ``case-call`` -- the 2026 call for case materials (verbatim).

Dates are the ORIGINAL dates (2024, 2024, 2026).  The demo loader shifts them by whole
years; every text that names the event's year uses the placeholder ``{year}`` (and the
call's "previous year" uses ``{prev_year}``), so the loader can ``str.format`` them.
No string here contains other braces.

Editorial conventions (the only changes made to the originals):

* the spaces that the newsletter's PDF extraction put between Chinese text and digits
  or Latin text ("8 月 20 日", "2024 年", "邮箱 zhongguoshequ@...") are removed;
* obvious typos are fixed: "中国社会工作联会会" -> "中国社会工作联合会", the stray space
  in "zhongguoshequ@vip. 163.com", the line break inside "统筹整合资源";
* the leading item numbers ("1、") are dropped from ``requirements`` (the list order is
  the numbering);
* paragraphs inside any multi-paragraph text are separated by a blank line ("\\n\\n").
"""
from datetime import date
from decimal import Decimal

COMMITTEE = "中国社会工作联合会城乡社区工作委员会"
FEDERATION = "中国社会工作联合会"
EMAIL = "zhongguoshequ@vip.163.com"

# Both meeting-type events share the federation's tiers, account and invoice text.
_FEE_COVERS = "含食宿、场地、资料、现场考察、咨询、管理、专家授课和筹划组织等费用"


def _fee_tiers() -> list[dict]:
    return [
        {"code": "member", "label": "委员会委员单位或联合会会员单位",
         "amount": Decimal("2980"), "is_member": True},
        {"code": "standard", "label": "其他单位、相关社会机构或个人等",
         "amount": Decimal("3580"), "is_member": False},
    ]


_PAYEE_NAME = FEDERATION
_BANK_NAME = "中国工商银行北京朝阳支行"
_BANK_ACCOUNT = "0200003409014427548"
_PAYMENT_REMARK = "城乡社区工作委员会服务费"
_INVOICE_NOTE = "收到汇款后由中国社会工作联合会开具正式电子发票（发票内容一般为培训服务。若需其他内容，请提前联系说明）"
_INVOICE_CONTENT = "培训服务"


def _committee_contacts() -> list[dict]:
    """The 联系方式 of the Xining notice, in its order."""
    return [
        {"kind": "phone", "label": "城乡工委", "value": "010-65081896"},
        {"kind": "phone", "label": "会员部", "value": "010-65035021"},
        {"kind": "email", "label": "邮箱", "value": EMAIL},
        {"kind": "person", "label": "王老师", "value": "13681260509"},
        {"kind": "person", "label": "杨老师", "value": "18518479502"},
        {"kind": "website", "label": "中国社区工作网", "value": "zhongguoshequ1990.org.cn"},
        {"kind": "wechat", "label": "公众号", "value": "中国社区工作网（zhongguoshequ1990）"},
    ]


# --------------------------------------------------------------------------- Xining
_XINING_TITLE = "全国基层物业管理服务创新发展经验交流会暨{year}年常务委员单位会议"
_XINING_MATERIALS = (
    "参会单位原则上应以“物业管理服务”为主要内容，自拟题目，提交交流材料（工作经验、相关做法、"
    "调研报告、理论文章、相关标准等均可，3000字以内为宜），并于8月1日前发电子版至"
    + EMAIL + "。交流材料务请有所侧重，以便学习交流，并将择优编入本次会议材料汇编。"
)

XINING = {
    "key": "xining",
    "kind": "meeting",
    "title": _XINING_TITLE,
    "short_title": "西宁会议",
    "notice_heading": COMMITTEE + "关于召开" + _XINING_TITLE + "的通知",
    "addressees": "各委员单位、会员单位及相关单位：",
    "preamble": (
        "习近平总书记对基层精准化治理和精细化服务工作多次做出重要指示，强调要改革创新，完善基层治理，"
        "加强社区服务能力建设，推进民生保障等工作，使人民群众的获得感、幸福感、安全感更加充实、"
        "更有保障、更可持续。基层物业管理服务是直接影响广大居民群众获得感、幸福感、安全感的重要因素，"
        "也是基层治理的一项重要内容。"
        "\n\n"
        "为深入贯彻落实中央相关精神，总结推广各委员单位先进经验，并充分发挥各副主任委员单位、"
        "常务委员单位的优势，共同推动委员会各项事业进一步发展，中国社会工作联合会城乡社区工作委员会"
        "研究决定，将于8月20日至23日在青海省西宁市召开全国基层物业管理服务创新发展经验交流会暨"
        "{year}年常务委员单位会议。"
    ),
    "organiser": COMMITTEE,
    "co_organiser": "青海省社会工作协会",
    "supporters_note": "支持单位于会议召开前进行征集，具体内容与支持方式可与主办方进一步协商。",
    "city": "青海省西宁市",
    "venue_name": "西宁大厦",
    "venue_address": "青海省西宁市城东区建国路61号",
    "venue_phone": "0971-8164800",
    "starts_on": date(2024, 8, 20),
    "ends_on": date(2024, 8, 23),
    "registration_deadline": date(2024, 8, 10),   # “务必于8月10日之前发至委员会邮箱”
    "materials_deadline": date(2024, 8, 1),       # “于8月1日前发电子版”
    "payment_deadline": date(2024, 8, 15),        # “务必于8月15日之前汇入”
    "published_on": date(2024, 6, 28),
    "capacity": 200,
    "schedule": [
        (date(2024, 8, 20), "全天", "报到"),
        (date(2024, 8, 21), "上午", "召开全国基层物业管理服务创新经验交流会"),
        (date(2024, 8, 21), "下午", "举办“社区物业管理服务创新研习班”"),
        (date(2024, 8, 22), "上午", "召开城乡社区工作委员会{year}年常务委员单位会议"),
        (date(2024, 8, 22), "下午", "参观西宁市相关社区、点位"),
        (date(2024, 8, 22), "晚上", "举办社会工作主题沙龙活动"),
        (date(2024, 8, 23), "全天", "返程"),
    ],
    "requirements": [
        "参会单位包括城乡社区工作委员会副主任委员、常务委员单位和其他委员单位、新申请入会单位，"
        "以及中国社会工作联合会全体会员单位和其他相关单位、社会服务机构等。各单位自定参会学习人数和人员，"
        "报名信息务必于8月10日之前发至委员会邮箱" + EMAIL + "。",
        _XINING_MATERIALS,
        "委员会副主任委员单位、常委单位原则上应围绕城乡社区工作委员会“{year}年党建引领城乡社区治理推进年活动”"
        "在各自单位的开展情况，准备本次常委单位会议探讨交流的有关内容。",
    ],
    "fee_covers": _FEE_COVERS,
    "fee_tiers": _fee_tiers(),
    "fee_note": "",
    "payee_name": _PAYEE_NAME,
    "bank_name": _BANK_NAME,
    "bank_account": _BANK_ACCOUNT,
    "payment_remark": _PAYMENT_REMARK,
    "invoice_note": _INVOICE_NOTE,
    "invoice_content": _INVOICE_CONTENT,
    "materials_note": _XINING_MATERIALS,
    "materials_char_limit": 3000,
    "contacts": _committee_contacts(),
    "signed_by": FEDERATION,          # the notice is signed “中国社会工作联合会 二Ｏ二四年六月二十八日”
    "signed_on": date(2024, 6, 28),
    "categories": [],
    "sections": [],
}


# -------------------------------------------------------------------------- Kunming
# Rebuilt from the report of the course.  Lecturers, topics, methods, content, the two
# site visits and 结业 are the report's; the dates other than 6-21..25 are the
# organiser's, keeping the Xining notice's lead times (registration 11 days, payment 6
# days and materials 20 days before the start; published 53 days before the start).
_KUNMING_TITLE = "城乡社区养老服务创新发展培训班"
_KUNMING_MATERIALS = (
    "参训单位可结合本单位近年来在养老服务工作中形成的优秀案例和典型经验，自拟题目，"
    "于6月1日前发电子版至" + EMAIL + "，经遴选后在培训班上进行交流分享。"
)

KUNMING = {
    "key": "kunming",
    "kind": "training",
    "title": _KUNMING_TITLE,
    "short_title": "昆明培训班",
    "notice_heading": COMMITTEE + "关于举办" + _KUNMING_TITLE + "的通知",
    "addressees": "各委员单位、会员单位及相关单位：",
    "preamble": (
        "为深入学习贯彻习近平总书记关于养老服务工作的重要指示批示精神，积极落实{year}年全国“两会”"
        "《政府工作报告》提出的养老工作任务要求，健全完善养老服务体系，加强养老服务人才队伍建设，"
        "提升养老服务工作专业化、科学化、规范化、标准化水平，推动新时代城乡社区养老服务工作高质量发展，"
        "中国社会工作联合会城乡社区工作委员会定于6月21日至25日在云南省昆明市举办“城乡社区养老服务"
        "创新发展培训班”。"
        "\n\n"
        "现将有关事项通知如下："
    ),
    "organiser": COMMITTEE,
    "co_organiser": "",
    "supporters_note": "",
    "city": "云南省昆明市",
    "venue_name": "",
    "venue_address": "云南省昆明市（具体培训地点另行通知）",
    "venue_phone": "",
    "starts_on": date(2024, 6, 21),
    "ends_on": date(2024, 6, 25),
    "registration_deadline": date(2024, 6, 10),
    "materials_deadline": date(2024, 6, 1),
    "payment_deadline": date(2024, 6, 15),
    "published_on": date(2024, 4, 29),
    "capacity": 60,
    "schedule": [
        (date(2024, 6, 21), "全天", "报到"),
        (date(2024, 6, 22), "上午", "开班；王莉莉研究员解读《关于加强养老服务人才队伍建设的意见》"
                                   "《关于发展银发经济增进老年人福祉的意见》"),
        (date(2024, 6, 22), "下午", "孙鹃娟教授专题授课《老龄化问题深度解析和养老服务实践创新》"),
        (date(2024, 6, 23), "上午", "李静教授专题授课《机构养老与社区养老融合发展》"),
        (date(2024, 6, 23), "下午", "李静教授专题授课《信息化赋能养老服务体系建设》"),
        (date(2024, 6, 24), "上午", "学员经验分享、案例评析与互动研讨"),
        (date(2024, 6, 24), "下午", "现场教学：参观公办、民办养老服务机构各一家"),
        (date(2024, 6, 25), "上午", "内化反思、结业"),
        (date(2024, 6, 25), "下午", "返程"),
    ],
    "requirements": [
        "参训对象包括城乡社区工作委员会委员单位、中国社会工作联合会会员单位，以及从事城乡社区养老服务"
        "工作的相关单位、养老服务机构、社会服务机构等的管理人员和业务骨干。各单位自定参训人数和人员，"
        "报名信息务必于6月10日之前发至委员会邮箱" + EMAIL + "。",
        _KUNMING_MATERIALS,
        "学员应按时参加全部课程和现场教学，培训结束后统一结业。",
    ],
    "fee_covers": _FEE_COVERS,
    "fee_tiers": _fee_tiers(),
    "fee_note": "本培训班收费标准及报名、交流材料、缴费截止日期由主办方参照委员会会议标准确定。",
    "payee_name": _PAYEE_NAME,
    "bank_name": _BANK_NAME,
    "bank_account": _BANK_ACCOUNT,
    "payment_remark": _PAYMENT_REMARK,
    "invoice_note": _INVOICE_NOTE,
    "invoice_content": _INVOICE_CONTENT,
    "materials_note": _KUNMING_MATERIALS,
    "materials_char_limit": None,
    "contacts": _committee_contacts(),
    "signed_by": COMMITTEE,
    "signed_on": date(2024, 4, 29),
    "categories": [],
    "sections": [
        {"heading": "培训方式",
         "body": "本次培训采用专家引领、互动研讨，经验分享、教学观摩，案例评析、内化反思等多种方式进行。"},
        {"heading": "培训内容",
         "body": "着重从国家相关政策、各地实践创新、工作难点解决和风险防控、养老工作发展方向、"
                 "老年人服务技能等内容展开，为参训学员提供全新的政策视角和服务思路。"},
        {"heading": "授课专家及专题",
         "body": "中国老龄科学研究中心研究员王莉莉：解读《关于加强养老服务人才队伍建设的意见》、"
                 "《关于发展银发经济增进老年人福祉的意见》两个重要文件的相关内容和出台背景。"
                 "\n\n"
                 "中国人民大学教授、博士生导师孙鹃娟：《老龄化问题深度解析和养老服务实践创新》，"
                 "分析中国老龄化的趋势和养老服务的创新实践方向。"
                 "\n\n"
                 "民政部养老服务专家库专家、云南大学教授、博士生导师李静：《机构养老与社区养老融合发展》"
                 "和《信息化赋能养老服务体系建设》。"},
        {"heading": "经验分享与现场教学",
         "body": "培训期间安排学员分享各自机构或单位近年来在养老服务工作中形成的优秀案例和典型经验。"
                 "\n\n"
                 "在昆明市当地有关机构的安排下，组织学员参观公办和民办两家养老服务机构，进行现场学习交流。"},
        {"heading": "结业",
         "body": "培训结束时举行结业仪式，完成全部课程和现场教学的学员予以结业，颁发结业证书。"},
    ],
}


# ------------------------------------------------------------------------ case call
_CALL_MATERIALS = (
    "1、真实性。案例材料须为近三年来已实施且成效显著的项目（申报表需加盖报送单位公章，"
    "以及推荐单位公章或附专家签字的推荐意见）。"
    "\n\n"
    "2、规范性。材料正文原则上应为3000字左右，包括背景、做法、成效三部分，突出实招，切忌空洞，"
    "并附200字左右内容摘要及3-5张高清图片（标注说明）。"
    "\n\n"
    "3、创新性。经验案例应守正创新、与时俱进，善于运用先进理念和方式方法。"
    "\n\n"
    "{prev_year}年已报材料切勿重复报送。"
)

CASE_CALL = {
    "key": "case-call",
    "kind": "call",
    "title": "{year}城乡社区治理服务资料库经验案例材料征集",
    "short_title": "案例征集",
    "notice_heading": "关于征集{year}城乡社区治理服务资料库经验案例材料的通知",
    "addressees": "各委员单位、有关单位及相关社会服务机构：",
    "preamble": (
        "为深入贯彻党的二十大及其历次全会精神，落实中央有关城乡社区治理服务工作部署和要求，"
        "推动城乡社区治理服务工作高质量发展，进一步充实城乡社区治理服务资料库内容，"
        "更好服务全国委员单位及基层单位、社会服务机构等，中国社会工作联合会城乡社区工作委员会"
        "{year}年继续面向全国征集城乡社区治理服务相关的经验和案例材料。"
        "\n\n"
        "具体事项通知如下："
    ),
    "organiser": COMMITTEE,
    "co_organiser": "",
    "supporters_note": "",
    "city": "",
    "venue_name": "",
    "venue_address": "",
    "venue_phone": "",
    "starts_on": date(2026, 3, 1),                # “自即日起开始接受申报”
    "ends_on": date(2026, 7, 31),
    "registration_deadline": date(2026, 7, 31),   # “7月31日申报截止”
    "materials_deadline": date(2026, 7, 31),      # materials go in with the application
    "payment_deadline": None,
    "published_on": date(2026, 3, 1),
    "capacity": 0,
    "schedule": [],
    "requirements": [],
    "fee_covers": "",
    "fee_tiers": [],
    "fee_note": "",
    "payee_name": "",
    "bank_name": "",
    "bank_account": "",
    "payment_remark": "",
    "invoice_note": "",
    "invoice_content": "",
    "materials_note": _CALL_MATERIALS,
    "materials_char_limit": 3000,
    "contacts": [
        {"kind": "email", "label": "报送邮箱", "value": EMAIL},
        {"kind": "phone", "label": "", "value": "010-65081896"},
        {"kind": "mobile", "label": "", "value": "18911607183"},
    ],
    "signed_by": COMMITTEE,
    "signed_on": date(2026, 3, 1),
    "categories": [
        {"code": "1", "label": "分类一",
         "title": "关于城乡社区治理服务的体制机制和方式方法的创新探索",
         "description": "包括但不限于区域化党建、基层党组织统筹整合资源、动员多方力量参与社区治理服务、"
                        "企业及新服务群体参与社区治理服务良性互动等成功经验。"},
        {"code": "2", "label": "分类二",
         "title": "关于城乡社区群众性自治和社会服务的工作经验",
         "description": "例如：通过党建引领核心作用的充分发挥，在组织体系构建、资源整合、"
                        "服务机制创新等方面探索的成功经验。"},
        {"code": "3", "label": "分类三",
         "title": "关于精准化、精细化城乡社区民生服务的项目案例",
         "description": "例如：聚焦“一老一小”、困境儿童、困难群体等特殊群体的精准化精细化服务"
                        "项目设计与实施成果。"},
        {"code": "4", "label": "分类四",
         "title": "破解城乡社区治理服务重点难点问题的成功实践和工作经验",
         "description": "例如：社区减负增效、物业管理服务体制机制创新、社区协商治理、中青年居民参与、"
                        "社区公益微循环、社区环境治理、居民就业支持等方面的工作经验。"},
    ],
    "sections": [
        {"heading": "征集对象", "placement": "intro",
         "body": "面向全体委员单位、基层有关单位、城乡社区、社会服务机构、社会组织及相关企事业单位等"
                 "进行征集，各单位、组织、机构等可围绕各自关于推动创新城乡社区治理服务的成功做法，"
                 "总结提炼出相关经验案例材料。"},
        {"heading": "工作安排",
         "body": "本征集自即日起开始接受申报，{year}年7月31日申报截止。委员单位在填写的申报表上加盖公章后，"
                 "直接同材料（含Pdf和Word）一起提交邮箱；其他单位除加盖报送单位公章外，"
                 "还须加盖上级推荐单位公章或附专家签字的推荐意见，然后提交邮箱。"
                 "\n\n"
                 "城乡社区工作委员会自8月份起，将根据材料情况，组织专家评审、实地核查和网络展示活动，"
                 "并将择机举办全国性经验交流与案例分享活动。"},
        {"heading": "成果应用",
         "body": "1、宣传推广：通过向主流媒体推荐、选入案例汇编或编入资料库等方式进行相关经验与项目案例的交流分享。"
                 "\n\n"
                 "2、研究借鉴：推荐纳入基层治理服务的相关研究资料库，为全国基层单位提供可借鉴的经验。"
                 "\n\n"
                 "3、资源对接：材料入选的委员单位优先参与委员会基层服务有关试点及专业服务项目的申报。"},
        {"heading": "",
         "body": "本活动不收取任何费用，不另设任何评审机构，请各单位积极组织申报，"
                 "共同推进城乡社区治理服务高质量发展。"},
    ],
}


DEMO_EVENTS: list[dict] = [XINING, KUNMING, CASE_CALL]


# ----------------------------------------------------------------- demo case reports
# Case reports sent to the call: ``years_back`` 1 goes to LAST year's call (loaded as a
# past, closed event so that its "already sent" guard can be tried on this year's call:
# submit the same unit and title again), 0 to this year's.  Units, people and numbers are
# invented for the demo.  Every text is loaded as written (no placeholders).
DEMO_CASES: list[dict] = [
    {
        "years_back": 1, "unit_name": "北京市朝阳区六里屯街道办事处", "province": "北京市",
        "city": "朝阳区", "contact_name": "李秀兰", "contact_mobile": "13911112201",
        "contact_email": "liulitun@demo.confreg", "recommendation": "member", "category": "4",
        "title": "党建引领“小区议事厅”破解老旧小区加装电梯难题",
        "abstract": "六里屯街道以党建引领为抓手，在老旧小区设立“小区议事厅”，组织居民、产权单位、"
                    "物业企业和施工方共同协商加装电梯事宜，形成“一梯一议、一楼一策”的工作方法。"
                    "三年来共协商加装电梯四十二部，化解矛盾纠纷一百余件，居民满意度明显提升，"
                    "为超大城市老旧小区更新提供了可复制的经验。",
        "sections": [
            ("一、背景", ["街道辖区内有老旧小区二十三个，六层以下无电梯住宅楼二百余栋，六十岁以上居民占三成以上，"
                         "上下楼难成为居民反映最集中的问题。",
                         "加装电梯涉及一楼与高层住户利益不同、出资比例难定、施工扰民等矛盾，过去多栋楼因意见不一而搁置。"]),
            ("二、做法", ["街道党工委牵头，在每个小区设立“小区议事厅”，由社区党委书记担任召集人，"
                         "邀请楼门长、产权单位、物业企业、施工方和律师参加，每周开放一次。",
                         "议事厅坚持“一梯一议”：先入户听意见，再集中议方案，最后签协议；对一楼住户的采光、"
                         "噪声顾虑，逐户制定补偿或调整方案。"]),
            ("三、成效", ["三年来，全街道协商加装电梯四十二部，化解相关矛盾纠纷一百余件，"
                         "居民满意度调查达到百分之九十六。",
                         "议事厅的做法已推广到停车管理、垃圾分类等事项，成为居民自治的常设平台。"]),
        ],
        "photos": ["议事厅协商现场", "加装电梯竣工仪式", "入户征求一楼住户意见"],
    },
    {
        "years_back": 1, "unit_name": "成都市武侯区玉林街道社会工作服务站", "province": "四川省",
        "city": "成都市", "contact_name": "周晓燕", "contact_mobile": "13911112202",
        "contact_email": "yulin@demo.confreg", "recommendation": "expert", "category": "3",
        "title": "“一老一小”社区互助食堂项目",
        "abstract": "玉林街道社会工作服务站依托社区闲置用房开办互助食堂，为独居、高龄老人提供助餐服务，"
                    "并在寒暑假为双职工家庭儿童提供午餐和托管，组织低龄老人和青年志愿者参与服务，"
                    "形成“老人帮老人、邻里帮孩子”的互助模式，年均服务一万二千人次。",
        "sections": [
            ("一、背景", ["辖区独居和高龄老人用餐难、双职工家庭假期看护难，是社区走访中反映最多的两类需求。"]),
            ("二、做法", ["服务站利用社区闲置用房改建互助食堂，引入爱心企业低价供餐，由社工统筹排班，"
                         "低龄老人和青年志愿者分担送餐、陪餐和课业辅导。",
                         "食堂实行会员积分制，志愿服务时长可兑换餐券，形成可持续的互助循环。"]),
            ("三、成效", ["项目年均服务一万二千人次，参与志愿者一百八十人，带动周边三个社区复制推广。"]),
        ],
        "photos": ["互助食堂午餐时间", "志愿者为高龄老人送餐", "暑期儿童托管课堂"],
    },
    {
        "years_back": 0, "unit_name": "西宁市城东区东关大街街道办事处", "province": "青海省",
        "city": "西宁市", "contact_name": "马晓明", "contact_mobile": "13911112203",
        "contact_email": "dongguan@demo.confreg", "recommendation": "member", "category": "1",
        "title": "多民族社区“石榴籽”共建共治机制的探索",
        "abstract": "东关大街街道是多民族聚居区。街道以“石榴籽”党建品牌为引领，整合驻区单位、宗教场所、"
                    "商户和居民骨干力量，建立联席议事、结对帮扶和矛盾联调三项机制，"
                    "推动各族群众共同参与社区治理，近三年辖区矛盾纠纷调解成功率保持在百分之九十八以上。",
        "sections": [
            ("一、背景", ["街道辖区居住着汉、回、藏、土、撒拉等多个民族的群众，流动人口多，"
                         "服务需求差异大，社区治理面临新的课题。"]),
            ("二、做法", ["建立由街道党工委牵头、驻区单位和居民代表参加的联席议事会，每月研究一次社区公共事务。",
                         "开展各族家庭结对帮扶，组建双语调解队伍，把矛盾化解在楼栋、化解在萌芽。"]),
            ("三、成效", ["近三年共召开联席议事会三十六次，办成民生实事八十余件，辖区矛盾纠纷调解成功率保持在百分之九十八以上。"]),
        ],
        "photos": ["联席议事会现场", "各族家庭结对帮扶活动", "双语调解员入户走访", "社区民族团结文艺汇演"],
    },
    {
        "years_back": 0, "unit_name": "昆明市五华区华山街道社区服务中心", "province": "云南省",
        "city": "昆明市", "contact_name": "杨丽", "contact_mobile": "13911112204",
        "contact_email": "huashan@demo.confreg", "recommendation": "unit_seal", "category": "2",
        "title": "楼栋自治小组推动老旧院落“微更新”",
        "abstract": "华山街道在无物业的老旧院落中推选楼栋长，组建楼栋自治小组，由居民自己提出、"
                    "商议和监督院落改造项目。街道以“以奖代补”方式支持居民自筹，三年完成院落微更新"
                    "六十七处，居民自筹资金占比达三成，院落环境和邻里关系明显改善。",
        "sections": [
            ("一、背景", ["辖区内无物业管理的老旧院落一百余个，设施老化、环境脏乱，居民参与意愿不高。"]),
            ("二、做法", ["在每个院落推选楼栋长，组建楼栋自治小组，按照“居民提议、小组商议、街道审核、居民监督”的流程实施改造。",
                         "街道对居民自筹的改造项目按比例给予奖励补助，并由社区规划师提供设计指导。"]),
            ("三、成效", ["三年完成院落微更新六十七处，居民自筹资金占比达三成，院落环境和邻里关系明显改善。"]),
        ],
        "photos": ["楼栋自治小组议事", "改造前的院落", "改造后的院落"],
    },
    {
        "years_back": 0, "unit_name": "上海市徐汇区社区发展促进会", "province": "上海市",
        "city": "徐汇区", "contact_name": "陈静", "contact_mobile": "13911112205",
        "contact_email": "xuhui@demo.confreg", "recommendation": "member", "category": "4",
        "title": "社区减负增效“一表通”改革实践",
        "abstract": "徐汇区社区发展促进会协助街道梳理居委会承担的各类报表，推行“一表通”数据共享，"
                    "同一数据只采集一次、多部门共用。改革后居委会报表数量减少七成，"
                    "社区工作者入户服务时间增加一倍，居民对社区服务的满意度显著提高。",
        "sections": [
            ("一、背景", ["居委会长期承担大量重复填报的报表，社区工作者疲于应付，入户服务时间不足。"]),
            ("二、做法", ["全面梳理居委会承担的报表和台账，合并同类项，建立“一表通”数据平台，"
                         "同一数据只采集一次、多部门共享使用。",
                         "建立报表准入制度，新增报表须经区级部门审核，杜绝层层加码。"]),
            ("三、成效", ["改革后居委会报表数量减少七成，社区工作者入户服务时间增加一倍。"]),
        ],
        "photos": ["一表通平台培训", "社区工作者入户服务", "居民满意度座谈会", "报表清理前后对比", "街道工作推进会"],
    },
]
