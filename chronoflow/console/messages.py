"""The console's words, in English and Brazilian Portuguese.

Keys are the English text's intent, not the text: a template asks for ``t("run_now")``. Both
catalogs hold the same keys (a unit test keeps them in step), so a missing translation fails a
test instead of showing a key to a user.
"""

from __future__ import annotations

EN: dict[str, str] = {
    "app": "ChronoFlow",
    "nav_overview": "Overview", "nav_chronos": "Chronos", "nav_functions": "Functions",
    "nav_channels": "Channels", "sign_out": "Sign out", "language": "Language",
    "sign_in_title": "Sign in", "token": "Token", "sign_in": "Sign in",
    "sign_in_help": "Paste one of the server's API tokens (CHRONOFLOW_API_TOKENS).",
    "bad_token": "This token is not one of the server's API tokens.",
    "bad_csrf": "The form expired: reload the page and try again.",
    "overview": "Overview", "layers": "Layers", "layer_database": "Database", "layer_redis": "Redis",
    "layer_scheduler": "Scheduler", "layer_workers": "Workers", "layer_sandbox": "Sandbox",
    "up": "up", "down": "down", "chronos_by_target": "Chronos by target and state",
    "active": "Active", "paused": "Paused", "runs_24h": "Runs of the last 24 hours",
    "next_fires": "Next fires", "latest_failures": "Latest failures", "none": "None",
    "chronos": "Chronos", "new_chrono": "New chrono", "search": "Search", "target": "Target",
    "any": "Any", "yes": "Yes", "no": "No", "filter": "Filter", "name": "Name", "schedule": "Schedule",
    "time_zone": "Time zone", "next_run": "Next run", "last_status": "Last status", "state": "State",
    "url": "URL", "method": "Method", "message": "Message", "channel": "Channel", "recipients": "Recipients",
    "function": "Function", "extras": "Extras (JSON)", "description": "Description", "create": "Create",
    "save": "Save", "edit": "Edit", "pause": "Pause", "resume": "Resume", "run_now": "Run now",
    "delete": "Delete", "runs": "Runs", "status": "Status", "scheduled_for": "Scheduled for",
    "duration": "Duration", "http_status": "HTTP status", "error": "Error", "snippet": "Response",
    "trigger": "Trigger", "previous": "Previous", "next": "Next", "page_of": "Page {page} of {pages}",
    "preview": "How it is read", "next_five": "Next five fire times", "edit_chrono": "Edit chrono",
    "recipients_help": "One phone number a line.", "payload": "Payload (JSON)",
    "run_queued": "Run queued.", "no_runs": "No runs yet.", "functions": "Functions",
    "new_function": "New function", "code": "Code", "version": "Version", "test": "Test",
    "result": "Result", "logs": "Logs", "failing_line": "Failing line {line}",
    "test_result": "Test result", "updated": "Updated", "channels": "Channels", "provider": "Provider",
    "start": "Start", "stop": "Stop", "logout": "Logout", "restart": "Restart", "scan_qr": "Scan the QR code",
    "qr_alt": "QR code to scan with WhatsApp", "connected": "Connected",
    "qr_help": "Open WhatsApp on the phone, Linked devices, and scan this code. It refreshes until the session works.",
    "no_channels": "No channels yet: create one through the API.", "not_found": "Not found",
    "error_page": "Something went wrong", "back": "Back", "chart_label": "Runs by status",
    "total": "Total", "times_in": "Times in {zone}",
    "nav_contacts": "Contacts", "nav_campaigns": "Campaigns", "contacts": "Contacts", "tags": "Tags",
    "phone": "Phone", "opted_out": "Opted out", "export_csv": "Export CSV", "import_csv": "Import a CSV file",
    "csv_file": "CSV file", "csv_help": "Columns: phone, name, tags (separated by ; or |); any other column is an attribute.",
    "tags_every_line": "Tags added to every line", "update_existing": "Update contacts already stored",
    "import": "Import", "import_report": "Import report", "created": "Created", "updated_count": "Updated",
    "unchanged": "Unchanged", "rejected": "Rejected", "line": "Line", "reason": "Reason",
    "validate_numbers": "Validate numbers on WhatsApp", "with_tag": "Contacts with the tag",
    "all_contacts": "All contacts", "validate": "Validate", "validation_report": "Validation",
    "checked": "Checked", "valid": "Valid", "invalid": "Invalid", "new_tag": "New tag", "actions": "Actions",
}
"""English, the source catalog."""

PT_BR: dict[str, str] = {
    "app": "ChronoFlow",
    "nav_overview": "Visão geral", "nav_chronos": "Chronos", "nav_functions": "Funções",
    "nav_channels": "Canais", "sign_out": "Sair", "language": "Idioma",
    "sign_in_title": "Entrar", "token": "Token", "sign_in": "Entrar",
    "sign_in_help": "Cole um dos tokens de API do servidor (CHRONOFLOW_API_TOKENS).",
    "bad_token": "Este token não é um dos tokens de API do servidor.",
    "bad_csrf": "O formulário expirou: recarregue a página e tente de novo.",
    "overview": "Visão geral", "layers": "Camadas", "layer_database": "Banco de dados", "layer_redis": "Redis",
    "layer_scheduler": "Agendador", "layer_workers": "Workers", "layer_sandbox": "Sandbox",
    "up": "no ar", "down": "fora do ar", "chronos_by_target": "Chronos por alvo e estado",
    "active": "Ativo", "paused": "Pausado", "runs_24h": "Execuções das últimas 24 horas",
    "next_fires": "Próximos disparos", "latest_failures": "Falhas recentes", "none": "Nenhum",
    "chronos": "Chronos", "new_chrono": "Novo chrono", "search": "Buscar", "target": "Alvo",
    "any": "Qualquer", "yes": "Sim", "no": "Não", "filter": "Filtrar", "name": "Nome", "schedule": "Agenda",
    "time_zone": "Fuso horário", "next_run": "Próxima execução", "last_status": "Último status",
    "state": "Estado", "url": "URL", "method": "Método", "message": "Mensagem", "channel": "Canal",
    "recipients": "Destinatários", "function": "Função", "extras": "Extras (JSON)",
    "description": "Descrição", "create": "Criar", "save": "Salvar", "edit": "Editar", "pause": "Pausar",
    "resume": "Retomar", "run_now": "Executar agora", "delete": "Excluir", "runs": "Execuções",
    "status": "Status", "scheduled_for": "Agendada para", "duration": "Duração", "http_status": "Status HTTP",
    "error": "Erro", "snippet": "Resposta", "trigger": "Origem", "previous": "Anterior", "next": "Próxima",
    "page_of": "Página {page} de {pages}", "preview": "Como é lida", "next_five": "Próximos cinco disparos",
    "edit_chrono": "Editar chrono", "recipients_help": "Um número de telefone por linha.",
    "payload": "Payload (JSON)", "run_queued": "Execução enfileirada.", "no_runs": "Nenhuma execução ainda.",
    "functions": "Funções", "new_function": "Nova função", "code": "Código", "version": "Versão",
    "test": "Testar", "result": "Resultado", "logs": "Logs", "failing_line": "Linha com falha {line}",
    "test_result": "Resultado do teste", "updated": "Atualizada", "channels": "Canais",
    "provider": "Provedor", "start": "Iniciar", "stop": "Parar", "logout": "Desconectar",
    "restart": "Reiniciar", "scan_qr": "Leia o QR code", "qr_alt": "QR code para ler com o WhatsApp",
    "connected": "Conectado",
    "qr_help": "Abra o WhatsApp no celular, Aparelhos conectados, e leia este código. Ele se renova até a sessão funcionar.",
    "no_channels": "Nenhum canal ainda: crie um pela API.", "not_found": "Não encontrado",
    "error_page": "Algo deu errado", "back": "Voltar", "chart_label": "Execuções por status",
    "total": "Total", "times_in": "Horários em {zone}",
    "nav_contacts": "Contatos", "nav_campaigns": "Campanhas", "contacts": "Contatos", "tags": "Tags",
    "phone": "Telefone", "opted_out": "Descadastrado", "export_csv": "Exportar CSV",
    "import_csv": "Importar um arquivo CSV", "csv_file": "Arquivo CSV",
    "csv_help": "Colunas: telefone, nome, tags (separadas por ; ou |); qualquer outra coluna vira um atributo.",
    "tags_every_line": "Tags somadas a cada linha", "update_existing": "Atualizar contatos já cadastrados",
    "import": "Importar", "import_report": "Relatório da importação", "created": "Criados",
    "updated_count": "Atualizados", "unchanged": "Sem mudança", "rejected": "Recusados", "line": "Linha",
    "reason": "Motivo", "validate_numbers": "Validar números no WhatsApp", "with_tag": "Contatos com a tag",
    "all_contacts": "Todos os contatos", "validate": "Validar", "validation_report": "Validação",
    "checked": "Verificados", "valid": "Válidos", "invalid": "Inválidos", "new_tag": "Nova tag", "actions": "Ações",
}
"""Brazilian Portuguese."""

CATALOGS: dict[str, dict[str, str]] = {"en": EN, "pt-BR": PT_BR}
"""Locale tag -> catalog; the first is the fallback."""

__all__ = ["CATALOGS", "EN", "PT_BR"]
