"""The XLSForms kancha serves to ODK Collect (survey.xlsx), and the script that first made them."""
