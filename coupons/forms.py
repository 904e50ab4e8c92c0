from django import forms

from contacts.services.uploads import upload_size_validator
from coupons.services.codes import CODE_PATTERN, MAX_GENERATE


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(
        min_value=1, max_value=MAX_GENERATE, initial=1000, help_text="How many new codes."
    )
    prefix = forms.CharField(
        max_length=20, required=False, help_text="Optional, e.g. WINBACK- (letters, digits, '-', '_')."
    )
    length = forms.IntegerField(
        min_value=6, max_value=32, initial=10, help_text="Random characters after the prefix."
    )

    def clean_prefix(self) -> str:
        prefix = self.cleaned_data["prefix"].strip().upper()
        if prefix and not CODE_PATTERN.match(prefix):
            raise forms.ValidationError("Use letters, digits, '-' and '_', starting with a letter or digit.")
        return prefix


class ImportCodesForm(forms.Form):
    file = forms.FileField(
        help_text="A CSV file from the shop with a 'code' column (UTF-8).", validators=[upload_size_validator]
    )
