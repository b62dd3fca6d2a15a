"""allauth's SAML provider, noting in the session what a logout at the IdP needs
(the NameID and session index of the assertion), since allauth keeps neither."""

from __future__ import annotations

from allauth.socialaccount.providers.saml.provider import SAMLProvider


class TenantSAMLProvider(SAMLProvider):
    def sociallogin_from_response(self, request, response):
        request.identity_saml_logout = {
            "name_id": response.get_nameid(),
            "name_id_format": response.get_nameid_format(),
            "session_index": response.get_session_index(),
        }
        return super().sociallogin_from_response(request, response)
