"""Staff forms of the member registry: uploading a registry file, deciding a member claim."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import BooleanField, DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..models.members import MEMBER_TYPES
from .registration import FormMeta

MAX_IMPORT_MB = 5


class MemberImportForm(FlaskForm):
    class Meta(FormMeta):
        pass

    file = FileField("名录文件（.xlsx 或 .csv）", [
        FileRequired("请选择要导入的文件。"),
        # The name only: the service reads the content and refuses a renamed file.
        FileAllowed(["xlsx", "csv"], "只接受 Excel 工作簿（.xlsx）或 CSV 文件。"),
        FileSize(MAX_IMPORT_MB * 1024 * 1024, message=f"文件不能超过 {MAX_IMPORT_MB} MB。"),
    ])


class ConfirmImportForm(FlaskForm):
    class Meta(FormMeta):
        pass

    # Signed by the server: names the uploaded file kept in the instance folder.
    upload = HiddenField(validators=[InputRequired()])


class ApproveClaimForm(FlaskForm):
    class Meta(FormMeta):
        pass

    add_to_registry = BooleanField("同时记入会员名录（以后报名自动按会员价）", default=True)
    member_type = SelectField("会员类型", choices=MEMBER_TYPES)
    valid_until = DateField("有效期至（留空为长期有效）", [Optional()], format="%Y-%m-%d")


class RejectClaimForm(FlaskForm):
    class Meta(FormMeta):
        pass

    reason = TextAreaField("说明（写入通知邮件，选填）",
                           [Length(max=300, message="说明不超过 300 个字。")],
                           render_kw={"rows": 2})
